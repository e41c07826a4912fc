//! The shell's own words (tray menu, tooltips, desktop notifications) in Portuguese and English.
//! Portuguese when the system language is Portuguese, English otherwise. The windows carry their
//! own copy of the same choice (`ui/src/i18n.ts`).

use sentinela_engine::config::ConfigError;
use sentinela_engine::events::MailboxProblem;
use sentinela_engine::journal::JournalError;
use sentinela_engine::oauth::OAuthError;
use sentinela_engine::secrets::SecretError;
use sentinela_engine::selftest::SelfTestError;
use sentinela_engine::twilio::{describe_code, describe_code_in_portuguese};

use crate::status::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Pt,
    En,
}

impl Lang {
    /// The app's language, chosen once at start.
    pub fn current() -> Lang {
        static CHOSEN: std::sync::OnceLock<Lang> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(Lang::detect)
    }

    /// From `SENTINELA_LANG` (`pt`/`en`, for tests and users who want to override it), else the
    /// system locale.
    fn detect() -> Lang {
        let tag = std::env::var("SENTINELA_LANG")
            .ok()
            .or_else(sys_locale::get_locale)
            .unwrap_or_default();
        if tag.to_ascii_lowercase().starts_with("pt") {
            Lang::Pt
        } else {
            Lang::En
        }
    }

    pub fn t(self, key: Key) -> &'static str {
        use Key::*;
        match (self, key) {
            (Lang::Pt, OpenHistory) => "Abrir histórico",
            (Lang::En, OpenHistory) => "Open history",
            (Lang::Pt, Settings) => "Configurações",
            (Lang::En, Settings) => "Settings",
            (Lang::Pt, Pause30) => "Pausar notificações por 30 min",
            (Lang::En, Pause30) => "Pause notifications for 30 min",
            (Lang::Pt, Pause2h) => "Pausar notificações por 2 h",
            (Lang::En, Pause2h) => "Pause notifications for 2 h",
            (Lang::Pt, PauseForever) => "Pausar notificações até retomar",
            (Lang::En, PauseForever) => "Pause notifications until resumed",
            (Lang::Pt, Resume) => "Retomar notificações",
            (Lang::En, Resume) => "Resume notifications",
            (Lang::Pt, TestAlert) => "Enviar alerta de teste",
            (Lang::En, TestAlert) => "Send test alert",
            (Lang::Pt, Autostart) => "Iniciar com o sistema",
            (Lang::En, Autostart) => "Start with the system",
            (Lang::Pt, Quit) => "Sair",
            (Lang::En, Quit) => "Quit",
            (Lang::Pt, Watching) => "Vigiando",
            (Lang::En, Watching) => "Watching",
            (Lang::Pt, Alerting) => "ALERTA em andamento",
            (Lang::En, Alerting) => "ALERT in progress",
            (Lang::Pt, Degraded) => "NÃO está vigiando",
            (Lang::En, Degraded) => "NOT watching",
            (Lang::Pt, Paused) => "Notificações pausadas",
            (Lang::En, Paused) => "Notifications paused",
            (Lang::Pt, Connecting) => "Conectando à caixa de e-mail…",
            (Lang::En, Connecting) => "Connecting to the mailbox…",
            (Lang::Pt, NotConfigured) => "Não configurado",
            (Lang::En, NotConfigured) => "Not configured",
            (Lang::Pt, LastCheck) => "última verificação",
            (Lang::En, LastCheck) => "last check",
            (Lang::Pt, Until) => "até",
            (Lang::En, Until) => "until",
            (Lang::Pt, IncidentOpened) => "🚨 Novo incidente",
            (Lang::En, IncidentOpened) => "🚨 New incident",
            (Lang::Pt, IncidentReopened) => "⚠️ Voltou a alarmar",
            (Lang::En, IncidentReopened) => "⚠️ Alarming again",
            (Lang::Pt, IncidentAcknowledged) => "Incidente assumido",
            (Lang::En, IncidentAcknowledged) => "Incident acknowledged",
            (Lang::Pt, IncidentResolved) => "✅ Incidente resolvido",
            (Lang::En, IncidentResolved) => "✅ Incident resolved",
            (Lang::Pt, IncidentHeld) => "Incidente guardado (notificações pausadas)",
            (Lang::En, IncidentHeld) => "Incident held (notifications paused)",
            (Lang::Pt, AckAll) => "Reconhecer todos os incidentes",
            (Lang::En, AckAll) => "Acknowledge all incidents",
            (Lang::Pt, OpenIncidents) => "incidente(s) aberto(s)",
            (Lang::En, OpenIncidents) => "open incident(s)",
            (Lang::Pt, Untaken) => "sem responsável",
            (Lang::En, Untaken) => "not taken",
            (Lang::Pt, By) => "por",
            (Lang::En, By) => "by",
            (Lang::Pt, Unnotified) => "Vigiando — NINGUÉM será avisado",
            (Lang::En, Unnotified) => "Watching — NOBODY will be told",
            (Lang::Pt, WhyDryRun) => "modo simulação: nada é enviado",
            (Lang::En, WhyDryRun) => "dry run: nothing is sent",
            (Lang::Pt, WhyNoTwilio) => "Twilio não configurado",
            (Lang::En, WhyNoTwilio) => "Twilio is not configured",
            (Lang::Pt, WhyNoChannel) => "nem WhatsApp nem ligações configurados",
            (Lang::En, WhyNoChannel) => "neither WhatsApp nor calls are configured",
            (Lang::Pt, NobodyAnswered) => "NINGUÉM ATENDEU",
            (Lang::En, NobodyAnswered) => "NOBODY ANSWERED",
            (Lang::Pt, ManagerStopped) => "Uma parte do Sentinela parou e está sendo reiniciada",
            (Lang::En, ManagerStopped) => "A part of Sentinela stopped and is being restarted",
            (Lang::Pt, RetryIn) => "nova tentativa sozinho em",
            (Lang::En, RetryIn) => "trying again by itself in",
            (Lang::Pt, TwilioDown) => "Sentinela NÃO consegue avisar ninguém: o Twilio não responde",
            (Lang::En, TwilioDown) => "Sentinela CANNOT notify anyone: Twilio does not answer",
            (Lang::Pt, TwilioBack) => "O Twilio voltou a responder: mensagens e ligações seguem",
            (Lang::En, TwilioBack) => "Twilio answers again: messages and calls go on",
            (Lang::Pt, SensorSilent) => "O sensor está em silêncio",
            (Lang::En, SensorSilent) => "The sensor is silent",
            (Lang::Pt, SensorBack) => "O sensor voltou a mandar e-mails",
            (Lang::En, SensorBack) => "The sensor is mailing again",
            (Lang::Pt, JournalFailing) => "O Sentinela não consegue gravar o histórico",
            (Lang::En, JournalFailing) => "Sentinela cannot write its journal",
            (Lang::Pt, JournalBack) => "O histórico voltou a ser gravado",
            (Lang::En, JournalBack) => "The journal is written again",
            (Lang::Pt, JournalReplaced) => "O histórico estava corrompido: um novo foi começado",
            (Lang::En, JournalReplaced) => "The journal was corrupt: a new one was started",
            (Lang::Pt, NotWatching) => "Sentinela NÃO está vigiando a caixa de e-mail",
            (Lang::En, NotWatching) => "Sentinela is NOT watching the mailbox",
            (Lang::Pt, WatchingAgain) => "Sentinela voltou a vigiar a caixa de e-mail",
            (Lang::En, WatchingAgain) => "Sentinela is watching the mailbox again",
            (Lang::Pt, TwilioRefused) => "O Twilio recusou as credenciais",
            (Lang::En, TwilioRefused) => "Twilio refused the credentials",
            (Lang::Pt, NoSharedJournal) => "Sem diário compartilhado: ative-o e preencha a URL do PostgreSQL (postgres://usuário@servidor:5432/banco?sslmode=verify-full).",
            (Lang::En, NoSharedJournal) => "No shared journal: switch it on and fill in the PostgreSQL URL (postgres://user@host:5432/database?sslmode=verify-full).",
            (Lang::Pt, NotRunning) => "O Sentinela não está em execução: nada está sendo vigiado. Inicie o Sentinela para que ele vigie a caixa de e-mail.",
            (Lang::En, NotRunning) => "Sentinela is not running: nothing is being watched. Start Sentinela so that it watches the mailbox.",
            (Lang::Pt, SharedJournalDown) => "O Sentinela não alcança o histórico compartilhado",
            (Lang::En, SharedJournalDown) => "Sentinela cannot reach the shared journal",
            (Lang::Pt, SharedJournalBack) => "O histórico compartilhado voltou a responder",
            (Lang::En, SharedJournalBack) => "The shared journal answers again",
            (Lang::Pt, NotifyingHere) => "esta estação notifica",
            (Lang::En, NotifyingHere) => "this workstation notifies",
            (Lang::Pt, NotifyingElsewhere) => "notificando:",
            (Lang::En, NotifyingElsewhere) => "notifying:",
            (Lang::Pt, TwilioDownThere) => "Twilio fora do ar",
            (Lang::En, TwilioDownThere) => "Twilio down",
            (Lang::Pt, NoAnswerFor) => "sem resposta há",
            (Lang::En, NoAnswerFor) => "no answer for",
            (Lang::Pt, NobodyNotifying) => "ninguém notificando",
            (Lang::En, NobodyNotifying) => "nobody notifying",
            (Lang::Pt, TestMark) => "[TESTE]",
            (Lang::En, TestMark) => "[TEST]",
        }
    }
}

/// A moment as the workstation's clock shows it: `28/11/2026 03:14`.
fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono::Local).format("%d/%m/%Y %H:%M").to_string()
}

impl Lang {
    /// A problem in the user's words: what happened and what to do, then the engine's own
    /// technical detail (English: host, port, the server's answer), which support needs as is.
    pub fn explain(self, problem: Problem<'_>) -> String {
        let (words, detail) = match (self, problem) {
            (Lang::En, Problem::Manager { name, reason }) => return format!("a part of Sentinela stopped ({name}): {reason}; it is being started again"),
            (Lang::Pt, Problem::Manager { name, reason }) => {
                return format!("Uma parte do Sentinela parou ({name}) e está sendo reiniciada sozinha. Se isto se repetir, veja o log. Detalhe técnico: {reason}")
            }
            (Lang::En, Problem::Journal(d)) => {
                return format!("the journal cannot be written: alerts are told from memory and journaled once it can be; free space on the data directory's disk. {d}")
            }
            (Lang::Pt, Problem::Journal(d)) => (
                "O histórico não pode ser gravado: os alertas saem da memória e são gravados quando voltar a ser possível. Libere espaço no disco da pasta de dados.",
                d,
            ),
            (Lang::En, Problem::SharedJournal(d)) => {
                return format!("the shared journal is out of reach: this workstation keeps watching, holds what it finds and journals it when the database answers; what nobody else has taken within the grace it tells from memory, but another workstation must notify; check the network to the database. {d}")
            }
            (Lang::Pt, Problem::SharedJournal(d)) => (
                "O histórico compartilhado não responde: esta estação segue vigiando, guarda o que encontra e grava quando o banco voltar; o que nenhuma outra estação tiver tomado dentro do prazo ela avisa da memória, mas não assume as notificações. Confira a rede até o banco de dados.",
                d,
            ),
            (Lang::En, Problem::SensorSilent(since)) => {
                return format!("nothing at all has come from the sensor's address since {}: check the sensor, its network and the mail path from it", local(since))
            }
            (Lang::Pt, Problem::SensorSilent(since)) => {
                return format!("Nada chegou do endereço do sensor desde {}: confira o sensor, a rede dele e o caminho do e-mail até a caixa.", local(since))
            }
            (Lang::En, Problem::TwilioUnreachable(d)) => return format!("Twilio has not answered for minutes: messages and calls wait and go out when it answers again. {d}"),
            (Lang::En, Problem::Start(d) | Problem::Mailbox { message: d, .. } | Problem::TwilioCredentials(d)) => return d.to_owned(),
            // Already in the user's words where it matters (see `secret_problem`).
            (Lang::Pt, Problem::Start(d)) => return format!("O Sentinela não conseguiu iniciar: {d}"),
            (Lang::Pt, Problem::TwilioUnreachable(d)) => (
                "O Twilio não responde há minutos: mensagens e ligações esperam e saem quando ele voltar. Confira a internet desta máquina.",
                d,
            ),
            (Lang::Pt, Problem::TwilioCredentials(d)) => {
                ("O Twilio recusou as credenciais: confira o Account SID nas Configurações e guarde o auth token de novo.", d)
            }
            (Lang::Pt, Problem::Mailbox { kind, message }) => (
                match kind {
                    MailboxProblem::Connect => "O servidor de e-mail não responde: confira o servidor e a porta nas Configurações e a rede.",
                    MailboxProblem::Tls => "A conexão segura (TLS) com o servidor de e-mail falhou: confira a segurança e a porta (tls: 993, starttls: 143) e o certificado do servidor.",
                    MailboxProblem::Auth => "O servidor de e-mail recusou o login: confira o usuário nas Configurações e guarde a senha de novo.",
                    MailboxProblem::SignIn => "Entre de novo na conta de e-mail (Configurações → Entrar com a Microsoft ou com o Google, ou `sentinela-headless login`): o provedor não aceita mais o login guardado.",
                    MailboxProblem::Folder => "A pasta de e-mail não abre: confira o nome da pasta nas Configurações (maiúsculas contam, exceto INBOX).",
                    MailboxProblem::Search => "O servidor de e-mail recusou a busca: confira o critério extra do filtro nas Configurações.",
                    MailboxProblem::Timeout => "O servidor de e-mail parou de responder: o Sentinela tenta de novo sozinho; confira a rede.",
                    MailboxProblem::Protocol => "A conexão com o servidor de e-mail caiu: o Sentinela tenta de novo sozinho.",
                    MailboxProblem::Refused => "O servidor de e-mail recusou um comando: o Sentinela tenta de novo sozinho; confira as permissões da pasta.",
                    MailboxProblem::Journal => "O histórico não pode ser gravado: confira o espaço em disco e a pasta de dados.",
                },
                message,
            ),
        };
        format!("{words} Detalhe técnico: {detail}")
    }
}

impl Lang {
    /// A configuration the engine refused: the field, the problem and the fix.
    pub fn config_problem(self, e: &ConfigError) -> String {
        match self {
            Lang::Pt => e.in_portuguese().unwrap_or_else(|| e.to_string()),
            Lang::En => e.to_string(),
        }
    }

    /// The journal (the history's database) could not be opened, read or written.
    pub fn journal_problem(self, e: &JournalError) -> String {
        match (self, e) {
            (Lang::En, _) => e.to_string(),
            (Lang::Pt, JournalError::Open { .. } | JournalError::CreateDir { .. }) => format!(
                "O histórico não pode ser aberto: confira se a pasta de dados existe, tem espaço em disco e pode ser gravada por este usuário (opção --data-dir). Detalhe técnico: {e}"
            ),
            (Lang::Pt, _) => format!("O histórico não pôde ser lido ou gravado: confira o espaço em disco e tente de novo. Detalhe técnico: {e}"),
        }
    }

    /// A test WhatsApp or call that could not be made or did not reach a person.
    pub fn self_test_problem(self, e: &SelfTestError) -> String {
        match self {
            Lang::Pt => e.in_portuguese().to_owned(),
            Lang::En => e.to_string(),
        }
    }

    /// A Twilio error recorded in the journal (in English, for logs and support): in Portuguese,
    /// Twilio's advice for its code first, the recorded words after it when they say more.
    pub fn twilio_code_problem(
        self,
        code: Option<i64>,
        recorded: Option<String>,
    ) -> Option<String> {
        match (self, code) {
            (Lang::Pt, Some(code)) => {
                let advice = describe_code_in_portuguese(code);
                Some(match recorded {
                    Some(r) if r != describe_code(code) => format!("{advice} Detalhe técnico: {r}"),
                    _ => advice,
                })
            }
            _ => recorded,
        }
    }

    /// A secret the engine could not read, with what to do about it.
    /// A sign-in that did not finish, or that the provider refused.
    pub fn sign_in_problem(self, e: &OAuthError) -> String {
        if self == Lang::En {
            return e.to_string();
        }
        let words = match e {
            OAuthError::SignInNeeded { .. } | OAuthError::NotSignedIn { .. } => {
                "Entre de novo na conta de e-mail (Entrar com a Microsoft ou com o Google, aqui nas Configurações)."
            }
            OAuthError::Refused { .. } => {
                "O provedor recusou o pedido: confira o ID do cliente, o locatário (tenant) e o segredo do cliente com quem registrou o aplicativo."
            }
            OAuthError::Unreachable { .. } => "O provedor de login não responde: confira a internet desta máquina e tente de novo.",
            OAuthError::SignIn { .. } => "O login não foi concluído: clique de novo em Entrar e conclua o login no navegador.",
            OAuthError::Secret(e) => return self.secret_problem(e),
        };
        format!("{words} Detalhe técnico: {e}")
    }

    pub fn secret_problem(self, e: &SecretError) -> String {
        if self == Lang::En {
            return e.to_string();
        }
        let what = |env_var: &str| match env_var {
            "SENTINELA_IMAP_PASSWORD" => "a senha da caixa de e-mail",
            "SENTINELA_OAUTH_CLIENT_SECRET" => "o segredo do cliente OAuth2",
            "SENTINELA_JOURNAL_PASSWORD" => "a senha do banco do histórico compartilhado",
            _ => "o auth token do Twilio",
        };
        match e {
            SecretError::Missing { env_var, .. } => format!(
                "falta {} no cofre de senhas do sistema: abra as Configurações, preencha o campo e clique em Guardar.",
                what(env_var)
            ),
            SecretError::Unavailable { env_var, reason, .. } => format!(
                "o cofre de senhas do sistema não pôde ser lido para {}: desbloqueie-o e tente de novo. Detalhe técnico: {reason}",
                what(env_var)
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    OpenHistory,
    Settings,
    Pause30,
    Pause2h,
    PauseForever,
    Resume,
    TestAlert,
    Autostart,
    Quit,
    Watching,
    Alerting,
    Degraded,
    Paused,
    NotConfigured,
    Connecting,
    LastCheck,
    Until,
    NobodyAnswered,
    Unnotified,
    WhyDryRun,
    WhyNoTwilio,
    WhyNoChannel,
    IncidentOpened,
    IncidentReopened,
    IncidentAcknowledged,
    IncidentResolved,
    IncidentHeld,
    AckAll,
    OpenIncidents,
    Untaken,
    By,
    NotWatching,
    WatchingAgain,
    TwilioDown,
    TwilioBack,
    SensorSilent,
    SensorBack,
    JournalFailing,
    JournalBack,
    JournalReplaced,
    RetryIn,
    ManagerStopped,
    TwilioRefused,
    NoSharedJournal,
    NotRunning,
    SharedJournalDown,
    SharedJournalBack,
    NotifyingHere,
    NotifyingElsewhere,
    NoAnswerFor,
    TwilioDownThere,
    NobodyNotifying,
    TestMark,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_explained_in_portuguese_with_the_technical_detail() {
        let refused = Problem::Mailbox {
            kind: MailboxProblem::Connect,
            message: "cannot reach the IMAP server imap.cpd:993: Connection refused",
        };
        let pt = Lang::Pt.explain(refused);
        assert!(
            pt.starts_with("O servidor de e-mail não responde: confira o servidor e a porta"),
            "{pt}"
        );
        assert!(
            pt.ends_with(
                "Detalhe técnico: cannot reach the IMAP server imap.cpd:993: Connection refused"
            ),
            "{pt}"
        );
        assert_eq!(
            Lang::En.explain(refused),
            "cannot reach the IMAP server imap.cpd:993: Connection refused"
        );
        assert!(Lang::Pt
            .explain(Problem::Mailbox { kind: MailboxProblem::Auth, message: "x" })
            .contains("guarde a senha de novo"));
        assert!(Lang::Pt
            .explain(Problem::TwilioCredentials("20003"))
            .starts_with("O Twilio recusou as credenciais"));
    }

    #[test]
    fn twilio_codes_in_the_history_get_portuguese_advice() {
        let pt = Lang::Pt.twilio_code_problem(Some(63015), Some(describe_code(63015))).unwrap();
        assert!(
            pt.starts_with("erro 63015: O destinatário não entrou no sandbox")
                && !pt.contains("Detalhe"),
            "{pt}"
        );
        let pt = Lang::Pt
            .twilio_code_problem(
                Some(21211),
                Some("Twilio refused the request (HTTP 400, error 21211): Invalid 'To'".into()),
            )
            .unwrap();
        assert!(
            pt.ends_with(
                "Detalhe técnico: Twilio refused the request (HTTP 400, error 21211): Invalid 'To'"
            ),
            "{pt}"
        );
        assert_eq!(Lang::Pt.twilio_code_problem(None, Some("x".into())), Some("x".into()));
        assert_eq!(Lang::En.twilio_code_problem(Some(63015), None), None);
    }

    #[test]
    fn a_journal_that_cannot_open_says_where_to_look() {
        let e = JournalError::CreateDir {
            path: "/x/data".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let pt = Lang::Pt.journal_problem(&e);
        assert!(
            pt.starts_with("O histórico não pode ser aberto: confira se a pasta de dados existe"),
            "{pt}"
        );
        assert!(pt.contains("Detalhe técnico: cannot create the data directory /x/data"), "{pt}");
        assert_eq!(Lang::En.journal_problem(&e), e.to_string());
    }

    #[test]
    fn a_missing_secret_says_where_to_store_it() {
        let missing = SecretError::Missing {
            label: "IMAP password",
            env_var: "SENTINELA_IMAP_PASSWORD",
            keyring_user: "imap-password",
        };
        let pt = Lang::Pt.explain(Problem::Start(&Lang::Pt.secret_problem(&missing)));
        assert_eq!(pt, "O Sentinela não conseguiu iniciar: falta a senha da caixa de e-mail no cofre de senhas do sistema: abra as Configurações, preencha o campo e clique em Guardar.");
        assert!(Lang::En.secret_problem(&missing).starts_with("the IMAP password is not set"));
    }
}
