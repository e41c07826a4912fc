//! Which problem an alert e-mail is about, and whether it says the problem is over.
//!
//! Sensors and monitoring tools re-send the same alarm with new readings and send a "back to
//! normal" mail at the end, all under the same filter. To join them into one incident the key
//! keeps what names the problem (sender, device, room, rack, service) and drops what changes
//! between mails of one problem: state words ("High Critical", "PROBLEM", "Down", "ALERTA"),
//! measured values with their unit, dates, times and durations.
//!
//! Known families are read by their own shape first (Nagios/Icinga, Zabbix, PRTG, APC), because
//! their subjects put the state in a fixed place; everything else goes through the generic rule.
//! An operator whose device the rules get wrong sets `[incidents] key_pattern`.

use std::sync::OnceLock;

use regex::Regex;

/// What the e-mail says about its problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The problem is happening (first mail or a repeat).
    Alarm,
    /// The device says the problem is over.
    Recovery,
}

/// An e-mail read as an incident signal: the problem's key and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub key: String,
    pub signal: Signal,
}

/// The operator's additions to the built-in rules (`[incidents]`).
#[derive(Debug, Clone, Default)]
pub struct KeyRules {
    /// A regex with a named group `key`, tried on the subject then the body.
    pub key_pattern: Option<Regex>,
    /// Extra recovery words, lower case.
    pub recovery_words: Vec<String>,
}

/// Phrases that mean "the problem is over", in the families' own words and in Portuguese.
/// Longer phrases first: "no longer on battery" must win over "on battery".
const RECOVERY_PHRASES: &[&str] = &[
    "no longer on battery",
    "power has been restored",
    "utility power restored",
    "power restored",
    "returned from battery",
    "retornou ao normal",
    "voltou ao normal",
    "back to normal",
    "return to normal",
    "returned to normal",
    "alarm end",
    "alarme fim",
    "fim do alarme",
    "normalizado",
    "normalizada",
    "normalizou",
    "resolvido",
    "resolvida",
    "resolved",
    "recovery",
    "recovered",
    "cleared",
    "normal",
    "ok",
    "up",
];

/// Phrases that look like a recovery word but say the opposite; removed before the check.
const NOT_RECOVERY: &[&str] = &[
    "acima do normal",
    "abaixo do normal",
    "fora do normal",
    "above normal",
    "below normal",
    "not ok",
];

/// Words that describe the state, never the problem: they do not count in the key.
const STATE_WORDS: &[&str] = &[
    "alarm",
    "alarme",
    "alarms",
    "alert",
    "alerta",
    "alertas",
    "alerts",
    "problem",
    "problema",
    "critical",
    "crítico",
    "critico",
    "crítica",
    "critica",
    "warning",
    "aviso",
    "atenção",
    "atencao",
    "high",
    "low",
    "alto",
    "alta",
    "baixo",
    "baixa",
    "down",
    "start",
    "started",
    "end",
    "fim",
    "início",
    "inicio",
    "on",
    "battery",
    "bateria",
    "em",
    "emergency",
    "emergência",
    "emergencia",
    "major",
    "minor",
    "disaster",
    "average",
    "information",
    "info",
    "severe",
    "unknown",
    "unreachable",
    "fail",
    "failed",
    "failure",
    "falha",
    "error",
    "erro",
    "escalation",
    "unusual",
    "partial",
    "acknowledged",
    "is",
    "está",
    "esta",
    "the",
    "has",
    "been",
    // Joining words around the readings ("31 °C às 03:10 de 28/11"): they come and go with them.
    "às",
    "de",
    "do",
    "da",
    "dos",
    "das",
    "no",
    "na",
    "nos",
    "nas",
    "at",
    "in",
    "of",
    "for",
    "since",
    "desde",
    "com",
    "with",
    "value",
    "valor",
    "leitura",
    "reading",
    "now",
    "agora",
];

fn rx(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("built-in pattern"))
}

/// Measured values with a unit, dates, times and durations: they change from mail to mail.
fn volatile() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    rx(
        &CELL,
        r"(?ix)
        \b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b                      # dates 2026-11-28, 28/11/2026, 2026.11.28
        | \b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?\b          # times 03:10, 03:10:05
        | \b(?:in\s+|há\s+|for\s+)?(?:\d+\s*[dhms]\s*)+\b        # durations 5m 30s, 1h 2m
        | [-+]?\d+(?:[.,]\d+)?\s*(?:°\s*[cf]?|º\s*[cf]?|%|degrees?\s*[cf]?|graus?)     # 31 °C, 85%, 33.5 degree C
        | [-+]?\d+(?:[.,]\d+)?\s*(?:c|f|v|vac|vdc|a|w|kw|kva|va|hz|ppm|rh|pa|kpa|ms|s)\b  # 33.5 C, 230 V
        | [-+]?\d+[.,]\d+                                         # any decimal reading
        ",
    )
}

/// Nagios and Icinga: `** PROBLEM Service Alert: host/svc is CRITICAL **`, `[RECOVERY] svc on host is OK!`.
fn nagios() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    rx(
        &CELL,
        r"(?i)^\s*(?:\*\*\s*|\[)(?P<kind>problem|recovery|custom|acknowledgement|flappingstart|flappingstop)\]?\s+(?:(?:service|host)\s+alert:\s*)?(?P<key>.+?)\s+is\s+(?P<level>[\w ]+?)\s*!?\s*(?:\*\*)?\s*$",
    )
}

/// Zabbix: `Problem: High CPU on web-01`, `Resolved in 5m 0s: High CPU on web-01`, `OK: …`.
fn zabbix() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    rx(
        &CELL,
        r"(?i)^\s*(?P<kind>problem|resolved(?:\s+in\s+[\dhmsd ]+)?|problem resolved|ok|updated problem)\s*:\s*(?P<key>.+?)\s*$",
    )
}

/// PRTG: `[PRTG Network Monitor] Switch-01 Ping Down (Request timed out)` / `… Up`.
fn prtg() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    rx(
        &CELL,
        r"(?i)^\s*\[[^\]]+\]\s*(?P<key>.+?)\s+(?P<kind>down|up|warning|unusual|partial down|down \(acknowledged\)|down ended)\b.*$",
    )
}

/// APC UPS: `UPS Sala 1: On battery power in response to an input power problem.` /
/// `UPS Sala 1: No longer on battery power.` / `… Power restored`.
fn apc() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    rx(
        &CELL,
        r"(?i)^\s*(?P<key>.*?)[\s:,-]*\b(?P<kind>no longer on battery|on battery|(?:utility )?power (?:has been )?restored|returned from battery)\b.*$",
    )
}

/// Reads one alert e-mail. `sender` is the From as journaled (`Name <address>` or an address).
pub fn read(sender: &str, subject: &str, body: &str, rules: &KeyRules) -> Reading {
    let who = sender_address(sender);
    let custom = rules
        .key_pattern
        .as_ref()
        .and_then(|p| p.captures(subject).or_else(|| p.captures(body)))
        .and_then(|c| c.name("key").map(|m| m.as_str().to_owned()));
    let (problem, signal) = match custom {
        Some(key) => (normalise(&key), generic_signal(subject, rules)),
        None => family(subject)
            .unwrap_or_else(|| (generic_problem(subject), generic_signal(subject, rules))),
    };
    Reading { key: format!("{who}|{problem}"), signal }
}

/// The address inside `Name <address>`, lower case: display names change, addresses do not.
fn sender_address(sender: &str) -> String {
    let s = sender.trim();
    let addr = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    addr.trim().to_lowercase()
}

fn family(subject: &str) -> Option<(String, Signal)> {
    if let Some(c) = nagios().captures(subject) {
        let kind = c["kind"].to_lowercase();
        let level = c["level"].to_lowercase();
        let over =
            kind == "recovery" || kind == "flappingstop" || matches!(level.as_str(), "ok" | "up");
        return Some((normalise(&c["key"]), if over { Signal::Recovery } else { Signal::Alarm }));
    }
    if let Some(c) = zabbix().captures(subject) {
        let kind = c["kind"].to_lowercase();
        let over = kind.starts_with("resolved") || kind == "ok" || kind == "problem resolved";
        return Some((
            generic_problem(&c["key"]),
            if over { Signal::Recovery } else { Signal::Alarm },
        ));
    }
    if let Some(c) = apc().captures(subject) {
        let kind = c["kind"].to_lowercase();
        let over = kind != "on battery";
        return Some((
            generic_problem(&c["key"]),
            if over { Signal::Recovery } else { Signal::Alarm },
        ));
    }
    if let Some(c) = prtg().captures(subject) {
        let kind = c["kind"].to_lowercase();
        let over = kind == "up" || kind == "down ended";
        return Some((
            generic_problem(&c["key"]),
            if over { Signal::Recovery } else { Signal::Alarm },
        ));
    }
    None
}

/// Lower case, volatile parts gone, punctuation as spaces, spaces collapsed.
fn normalise(text: &str) -> String {
    let lower = text.to_lowercase();
    let stripped = volatile().replace_all(&lower, " ");
    words(&stripped).join(" ")
}

/// Words of a text: letters, digits and the joiners names use (`Rack-A`, `host/svc`, `web_01`).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '/' | '_' | '.')))
        .map(|w| w.trim_matches(|c: char| matches!(c, '-' | '/' | '_' | '.')))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The subject normalised, padded with spaces so phrases match whole words, without `phrases`.
fn without(subject: &str, phrases: &[&str]) -> String {
    let mut text = format!(" {} ", normalise(subject));
    for phrase in phrases {
        text = text.replace(&format!(" {phrase} "), " ");
    }
    text
}

/// The generic rule: the subject without state words, recovery phrases and volatile parts.
fn generic_problem(subject: &str) -> String {
    let text = without(subject, &[NOT_RECOVERY, RECOVERY_PHRASES].concat());
    let kept: Vec<&str> = text.split_whitespace().filter(|w| !STATE_WORDS.contains(w)).collect();
    if kept.is_empty() {
        // Nothing but state words: the whole subject is the key, so it still groups with itself.
        normalise(subject)
    } else {
        kept.join(" ")
    }
}

fn generic_signal(subject: &str, rules: &KeyRules) -> Signal {
    let text = without(subject, NOT_RECOVERY);
    let says = |phrase: &str| text.contains(&format!(" {phrase} "));
    let recovered = RECOVERY_PHRASES.iter().any(|p| says(p))
        || rules.recovery_words.iter().any(|p| says(&normalise(p)));
    if recovered {
        Signal::Recovery
    } else {
        Signal::Alarm
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Signal::*;

    const SENSOR: &str = "ServSensor <servsensor@cpd.exemplo.com.br>";

    fn r(subject: &str) -> Reading {
        read(SENSOR, subject, "", &KeyRules::default())
    }

    /// Each family: mails of one problem share a key; the recovery says so.
    #[test]
    fn families_group_their_alarms_repeats_and_recoveries() {
        let families: &[(&str, &[(&str, Signal)])] = &[
            (
                "ServSensor/AKCP",
                &[
                    ("Temperatura Rack-A High Critical 33.5 C", Alarm),
                    ("Temperatura Rack-A High Critical 34.1 C", Alarm),
                    ("Temperatura Rack-A High Warning 31 °C", Alarm),
                    ("Temperatura Rack-A Normal 24.0 C", Recovery),
                ],
            ),
            (
                "AKCP sensorProbe",
                &[
                    ("sensorProbe2: Temperature Sensor 1 is High Critical, 33.5 Degree C", Alarm),
                    ("sensorProbe2: Temperature Sensor 1 is Normal, 24.0 Degree C", Recovery),
                ],
            ),
            (
                "Umidade",
                &[("Umidade Sala 1 alta 85%", Alarm), ("Umidade Sala 1 normal 55%", Recovery)],
            ),
            (
                "Zabbix",
                &[
                    ("Problem: High CPU utilization on web-01", Alarm),
                    ("Problem: High CPU utilization on web-01", Alarm),
                    ("Resolved: High CPU utilization on web-01", Recovery),
                    ("Resolved in 5m 0s: High CPU utilization on web-01", Recovery),
                ],
            ),
            (
                "Zabbix 4",
                &[
                    ("PROBLEM: Temperature is too high on rack-3", Alarm),
                    ("OK: Temperature is too high on rack-3", Recovery),
                ],
            ),
            (
                "Nagios service",
                &[
                    ("** PROBLEM Service Alert: srv-db/Disk Space is CRITICAL **", Alarm),
                    ("** PROBLEM Service Alert: srv-db/Disk Space is WARNING **", Alarm),
                    ("** RECOVERY Service Alert: srv-db/Disk Space is OK **", Recovery),
                ],
            ),
            (
                "Nagios host",
                &[
                    ("** PROBLEM Host Alert: ups-01 is DOWN **", Alarm),
                    ("** RECOVERY Host Alert: ups-01 is UP **", Recovery),
                ],
            ),
            (
                "Icinga 2",
                &[
                    ("[PROBLEM] ping4 on router-2 is CRITICAL!", Alarm),
                    ("[RECOVERY] ping4 on router-2 is OK!", Recovery),
                ],
            ),
            (
                "PRTG",
                &[
                    ("[PRTG Network Monitor] Switch-01 Ping Down (Request timed out)", Alarm),
                    (
                        "[PRTG Network Monitor] Switch-01 Ping Down ESCALATION (Request timed out)",
                        Alarm,
                    ),
                    ("[PRTG Network Monitor] Switch-01 Ping Up (OK)", Recovery),
                ],
            ),
            (
                "APC",
                &[
                    (
                        "APC UPS Sala 1: On battery power in response to an input power problem.",
                        Alarm,
                    ),
                    ("APC UPS Sala 1: No longer on battery power.", Recovery),
                    ("APC UPS Sala 1: Power restored", Recovery),
                ],
            ),
            (
                "HWg",
                &[
                    ("HWg-STE: Sensor Temperatura 1 ALARM START 33.5 C", Alarm),
                    ("HWg-STE: Sensor Temperatura 1 ALARM START 35.0 C", Alarm),
                    ("HWg-STE: Sensor Temperatura 1 ALARM END 24.2 C", Recovery),
                ],
            ),
            (
                "Português",
                &[
                    ("ALERTA: Temperatura crítica na Sala 1 — 31 °C às 03:10 de 28/11/2026", Alarm),
                    ("ALERTA: Temperatura crítica na Sala 1 — 32 °C às 03:15 de 28/11/2026", Alarm),
                    ("Temperatura na Sala 1 normalizado — 24 °C", Recovery),
                    ("Temperatura na Sala 1 retornou ao normal", Recovery),
                    ("Temperatura na Sala 1: resolvido", Recovery),
                ],
            ),
            (
                "Acima do normal é alarme",
                &[
                    ("Temperatura Sala 2 acima do normal 30 °C", Alarm),
                    ("Temperatura Sala 2 normal 22 °C", Recovery),
                ],
            ),
        ];
        for (family, mails) in families {
            let first = r(mails[0].0);
            for (subject, signal) in mails.iter() {
                let got = r(subject);
                assert_eq!(got.signal, *signal, "{family}: {subject:?} read as {:?}", got.signal);
                assert_eq!(got.key, first.key, "{family}: {subject:?} must join {:?}", mails[0].0);
            }
        }
    }

    /// Names count: another rack, room, host or service is another problem.
    #[test]
    fn names_keep_problems_apart() {
        let apart = [
            ("Temperatura Rack-A High Critical 33.5 C", "Temperatura Rack-B High Critical 33.5 C"),
            ("Umidade Sala 1 alta 85%", "Umidade Sala 2 alta 85%"),
            ("Problem: High CPU utilization on web-01", "Problem: High CPU utilization on web-02"),
            (
                "** PROBLEM Service Alert: srv-db/Disk Space is CRITICAL **",
                "** PROBLEM Service Alert: srv-db/Load is CRITICAL **",
            ),
            (
                "[PRTG Network Monitor] Switch-01 Ping Down",
                "[PRTG Network Monitor] Switch-02 Ping Down",
            ),
            ("APC UPS Sala 1: On battery power", "APC UPS Sala 2: On battery power"),
            ("Temperatura Rack-A High Critical 33.5 C", "Umidade Rack-A High Critical 80%"),
        ];
        for (a, b) in apart {
            assert_ne!(r(a).key, r(b).key, "{a:?} and {b:?} are different problems");
        }
    }

    #[test]
    fn the_sender_counts_and_its_display_name_does_not() {
        let a = read("Sensor A <a@cpd>", "Temperatura Sala 1 alta 31 °C", "", &KeyRules::default());
        let renamed =
            read("Outro nome <A@CPD>", "Temperatura Sala 1 alta 32 °C", "", &KeyRules::default());
        let other = read("b@cpd", "Temperatura Sala 1 alta 31 °C", "", &KeyRules::default());
        assert_eq!(a.key, renamed.key);
        assert_ne!(a.key, other.key);
    }

    #[test]
    fn a_key_pattern_overrides_the_rule_and_recovery_words_extend_it() {
        let rules = KeyRules {
            key_pattern: Some(Regex::new(r"Sonda (?P<key>\w+)").unwrap()),
            recovery_words: vec!["liberado".into()],
        };
        let a = read(SENSOR, "Evento 7731 Sonda XPTO disparou", "", &rules);
        let b = read(SENSOR, "Evento 7790 Sonda XPTO liberado", "", &rules);
        assert_eq!(a.key, b.key, "the event numbers differ but the pattern's key is the same");
        assert_eq!((a.signal, b.signal), (Alarm, Recovery));
        let in_body = read(SENSOR, "Evento", "Detalhe: Sonda ABC em falha", &rules);
        assert!(
            in_body.key.ends_with("|abc"),
            "tried on the body when the subject has no match: {}",
            in_body.key
        );
        let unmatched = read(SENSOR, "Temperatura Sala 1 alta 31 °C", "", &rules);
        assert_eq!(
            unmatched.key,
            r("Temperatura Sala 1 alta 33 °C").key,
            "no match: the built-in rule"
        );
    }

    #[test]
    fn a_subject_of_only_state_words_still_has_a_key() {
        assert_eq!(r("ALERTA").key, r("alerta").key);
        assert!(!r("ALERTA").key.ends_with('|'));
    }
}
