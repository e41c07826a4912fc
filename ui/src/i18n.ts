// The windows' words in Portuguese (default when the system language is Portuguese) and English.
import type { AckVia, AlertKind, IncidentEventKind, IncidentState, Lang, MessagePurpose, ResolveVia } from "./ipc";

const pt = {
  settings: "Configurações", history: "Histórico", save: "Salvar", saved: "Salvo. O Sentinela já está usando as novas configurações.",
  saved_not_running: "Salvo. O Sentinela não está em execução: as novas configurações valem quando ele iniciar.",
  mailbox: "Caixa de e-mail", filter: "Filtro", twilio: "Twilio", whatsapp: "WhatsApp", calls: "Ligações",
  host: "Servidor IMAP", port: "Porta", security: "Segurança", username: "Usuário", folder: "Pasta", ca_file: "Certificado extra (PEM)",
  rescan_secs: "Reverificação (s)", mark_seen: "Marcar como lido após registrar", max_message_bytes: "Tamanho máximo por e-mail (bytes)",
  from: "Remetente", subject: "Assunto contém", search: "Critérios IMAP extras",
  account_sid: "Account SID", api_key_sid: "API key SID (opcional)", base_url: "URL da API", dry_run: "Simulação (não envia nada)",
  wa_from: "Remetente WhatsApp", wa_to: "Destinatários (um por linha)", content_sid: "Modelo aprovado (Content SID)",
  calls_from: "Número de origem", calls_to: "Números, na ordem (um por linha)", ring_secs: "Tocar por (s)", rounds: "Rodadas",
  round_pause_secs: "Pausa entre rodadas (s)", voice: "Voz", language: "Idioma", require_human: "Exigir pessoa (secretária eletrônica não conta)",
  imap_password: "Senha do e-mail", twilio_token: "Auth token do Twilio", stored: "guardado no cofre do sistema", not_stored: "não guardado",
  replace: "Substituir", store: "Guardar",
  test_mailbox: "Testar caixa de e-mail", test_whatsapp: "Enviar WhatsApp de teste", test_call: "Fazer ligação de teste", test_to: "Número para o teste",
  enable_twilio: "Notificar pelo Twilio (WhatsApp e ligações)",
  probe_ok: (m: number, idle: boolean) => `Login OK. ${m} e-mail(s) de alerta não lido(s). ${idle ? "IDLE: sim (aviso imediato)" : "IDLE: não (verificação periódica)"}`,
  search_ph: "Filtrar por texto", since: "Desde", until: "Até", export_csv: "Exportar CSV", exported: "Exportado para",
  col_time: "Hora", col_subject: "Assunto", col_outcome: "Resultado", body: "E-mail mais recente", deliveries: "WhatsApp", timeline: "Ligações",
  answered_by: "atendido por", nobody: "ninguém atendeu", in_progress: "em andamento", paused: "pausado (ninguém avisado)", test: "teste",
  new: "novo", notified: "avisado", st_dry_run: "simulação", no_alerts: "Nenhum alerta.", choose: "Escolha um alerta para ver os detalhes.",
  round: "rodada", duration: "duração", older: "Mostrar incidentes mais antigos",
  col_emails: "E-mails", col_state: "Situação", by: "por", held: "guardado durante a pausa",
  acknowledge: "Reconhecer", resolve: "Resolver", acked_now: "Reconhecido. As ligações para ele param.", resolved_now: "Resolvido.",
  no_incidents: "Nenhum incidente.", choose_incident: "Escolha um incidente para ver a linha do tempo.",
  emails_word: (n: number) => (n === 1 ? "1 e-mail" : `${n} e-mails`), first_seen: "desde", last_seen: "último",
  date_ph: "dd/mm/aaaa", bad_date: "Data inválida: use dd/mm/aaaa.",
  incident_states: { open: "aberto", acknowledged: "reconhecido", resolved: "resolvido" } satisfies Record<IncidentState, string>,
  ack_via: { call: "atendeu a ligação", whatsapp: "WhatsApp", desktop: "no Sentinela", cli: "linha de comando" } satisfies Record<AckVia, string>,
  resolve_via: { recovery: "o sensor avisou que normalizou", desktop: "resolvido no Sentinela", cli: "resolvido pela linha de comando" } satisfies Record<ResolveVia, string>,
  alert_kinds: { alarm: "alarme", repeat: "repetição", recovery: "normalizou" } satisfies Record<AlertKind, string>,
  purposes: { alarm: "alerta", reminder: "lembrete", resolved: "resolvido", reopened: "voltou a alarmar", digest: "resumo", legacy: "alerta" } satisfies Record<MessagePurpose, string>,
  log_kinds: {
    opened: "aberto", repeat: "repetição", recovered: "o sensor avisou que normalizou", reopened: "voltou a alarmar",
    acknowledged: "reconhecido", resolved: "resolvido", held: "guardado: notificações pausadas", released: "pausa terminou: equipe avisada",
    unanswered: "NINGUÉM ATENDEU: todas as rodadas de ligações sem resposta", migrated: "trazido de uma versão anterior",
  } satisfies Record<IncidentEventKind, string>,
  email: "e-mail", message: "WhatsApp", call: "ligação", timeline_all: "Linha do tempo",
  // Call and WhatsApp states as the journal records them (Twilio's words and the engine's own).
  states: {
    placing: "discando", queued: "na fila", initiated: "iniciada", ringing: "tocando", "in-progress": "em andamento",
    completed: "concluída", answered: "atendida", machine: "secretária eletrônica", unconfirmed: "atendida, sem confirmar que por uma pessoa",
    "no-answer": "não atendeu", busy: "ocupado", failed: "falhou", canceled: "cancelada", error: "recusada pelo Twilio",
    dry_run: "simulação", pending: "pendente", sending: "enviando", accepted: "aceita", sent: "enviada", delivered: "entregue",
    read: "lida", undelivered: "não entregue", gathered: "aguardando o resumo", digested: "enviada no resumo",
  } as Record<string, string>,
  answered_by_kinds: {
    human: "pessoa", machine_start: "secretária eletrônica", machine_end_beep: "secretária eletrônica",
    machine_end_silence: "secretária eletrônica", machine_end_other: "secretária eletrônica", fax: "fax", unknown: "não identificado",
  } as Record<string, string>,
};

export type Words = typeof pt;

const en: Words = {
  settings: "Settings", history: "History", save: "Save", saved: "Saved. Sentinela is already using the new settings.",
  saved_not_running: "Saved. Sentinela is not running: the new settings apply when it starts.",
  mailbox: "Mailbox", filter: "Filter", twilio: "Twilio", whatsapp: "WhatsApp", calls: "Calls",
  host: "IMAP server", port: "Port", security: "Security", username: "Username", folder: "Folder", ca_file: "Extra certificate (PEM)",
  rescan_secs: "Re-scan (s)", mark_seen: "Mark as read once journaled", max_message_bytes: "Max bytes per e-mail",
  from: "Sender", subject: "Subject contains", search: "Extra IMAP criteria",
  account_sid: "Account SID", api_key_sid: "API key SID (optional)", base_url: "API URL", dry_run: "Dry run (send nothing)",
  wa_from: "WhatsApp sender", wa_to: "Recipients (one per line)", content_sid: "Approved template (Content SID)",
  calls_from: "Caller ID", calls_to: "Numbers, in order (one per line)", ring_secs: "Ring for (s)", rounds: "Rounds",
  round_pause_secs: "Pause between rounds (s)", voice: "Voice", language: "Language", require_human: "Require a person (voicemail does not count)",
  imap_password: "Mailbox password", twilio_token: "Twilio auth token", stored: "stored in the system keyring", not_stored: "not stored",
  replace: "Replace", store: "Store",
  test_mailbox: "Test mailbox", test_whatsapp: "Send test WhatsApp", test_call: "Place test call", test_to: "Number for the test",
  enable_twilio: "Notify through Twilio (WhatsApp and calls)",
  probe_ok: (m: number, idle: boolean) => `Login OK. ${m} unread alert e-mail(s). ${idle ? "IDLE: yes (instant)" : "IDLE: no (polling)"}`,
  search_ph: "Filter by text", since: "Since", until: "Until", export_csv: "Export CSV", exported: "Exported to",
  col_time: "Time", col_subject: "Subject", col_outcome: "Outcome", body: "Latest e-mail", deliveries: "WhatsApp", timeline: "Calls",
  answered_by: "answered by", nobody: "nobody answered", in_progress: "in progress", paused: "paused (nobody notified)", test: "test",
  new: "new", notified: "notified", st_dry_run: "dry run", no_alerts: "No alerts.", choose: "Pick an alert to see its details.",
  round: "round", duration: "duration", older: "Show older incidents",
  col_emails: "E-mails", col_state: "State", by: "by", held: "held during the pause",
  acknowledge: "Acknowledge", resolve: "Resolve", acked_now: "Acknowledged. Its calls stop.", resolved_now: "Resolved.",
  no_incidents: "No incidents.", choose_incident: "Pick an incident to see its timeline.",
  emails_word: (n: number) => (n === 1 ? "1 e-mail" : `${n} e-mails`), first_seen: "since", last_seen: "last",
  date_ph: "dd/mm/yyyy", bad_date: "Not a date: use dd/mm/yyyy.",
  incident_states: { open: "open", acknowledged: "acknowledged", resolved: "resolved" },
  ack_via: { call: "answered the call", whatsapp: "WhatsApp", desktop: "in Sentinela", cli: "command line" },
  resolve_via: { recovery: "the sensor said it is back to normal", desktop: "resolved in Sentinela", cli: "resolved from the command line" },
  alert_kinds: { alarm: "alarm", repeat: "repeat", recovery: "back to normal" },
  purposes: { alarm: "alert", reminder: "reminder", resolved: "resolved", reopened: "alarming again", digest: "digest", legacy: "alert" },
  log_kinds: {
    opened: "opened", repeat: "repeat", recovered: "the sensor said it is back to normal", reopened: "alarming again",
    acknowledged: "acknowledged", resolved: "resolved", held: "held: notifications paused", released: "pause ended: team told",
    unanswered: "NOBODY ANSWERED: every round of calls went unanswered", migrated: "brought from an older version",
  },
  email: "e-mail", message: "WhatsApp", call: "call", timeline_all: "Timeline",
  states: {
    placing: "dialling", queued: "queued", initiated: "initiated", ringing: "ringing", "in-progress": "in progress",
    completed: "completed", answered: "answered", machine: "voicemail", unconfirmed: "answered, person not confirmed",
    "no-answer": "no answer", busy: "busy", failed: "failed", canceled: "canceled", error: "refused by Twilio",
    dry_run: "dry run", pending: "pending", sending: "sending", accepted: "accepted", sent: "sent", delivered: "delivered",
    read: "read", undelivered: "undelivered", gathered: "waiting for the digest", digested: "sent in the digest",
  },
  answered_by_kinds: {
    human: "person", machine_start: "voicemail", machine_end_beep: "voicemail", machine_end_silence: "voicemail",
    machine_end_other: "voicemail", fax: "fax", unknown: "unknown",
  },
};

export function words(lang: Lang): Words {
  return lang === "pt" ? pt : en;
}
