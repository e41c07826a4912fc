//! Who really sent an e-mail, and whether that sender may make the phones ring.
//!
//! The IMAP search (`FROM "…"`) matches a substring of the whole From header, display name
//! included, so it only narrows the search; this check decides. The From headers — all of them —
//! must hold exactly one address, and it must equal an allowed address or belong to an allowed
//! domain: compared without case, the domain after IDNA (UTS #46) normalisation, so a look-alike
//! (a Cyrillic `о`, a full-width `＠`) is another address, not the same one. Display names never
//! count. With `authserv_id`, the receiving server's own verdict must also say the From domain
//! was authenticated (see [`authenticated`]).

use mail_parser::{HeaderName, MessageParser};

/// One allowed sender, as `[filter] from` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedSender {
    /// `sensor@cpd.example.com.br`: that address only.
    Address { local: String, domain: String },
    /// `@cpd.example.com.br`: any address of that domain, not of its subdomains.
    Domain(String),
    /// `@.example.com.br`: that domain and all its subdomains.
    DomainAndSubdomains(String),
}

impl AllowedSender {
    /// Reads one `[filter] from` entry; the error says what is wrong with it.
    pub fn parse(entry: &str) -> Result<AllowedSender, String> {
        let entry = entry.trim();
        if let Some(domain) = entry.strip_prefix("@.") {
            // A one-label "domain and its subdomains" would be a whole top-level domain.
            let domain = ascii_domain(domain)?;
            if !domain.contains('.') {
                return Err(format!("{entry:?} would allow a whole top-level domain"));
            }
            return Ok(AllowedSender::DomainAndSubdomains(domain));
        }
        if let Some(domain) = entry.strip_prefix('@') {
            return Ok(AllowedSender::Domain(ascii_domain(domain)?));
        }
        let (local, domain) = split_address(entry).ok_or_else(|| format!("{entry:?} is not an e-mail address, @domain or @.domain"))?;
        Ok(AllowedSender::Address { local, domain })
    }

    /// A substring for the server's cheap pre-filter (`FROM "…"`).
    pub fn search_text(&self) -> String {
        match self {
            AllowedSender::Address { local, domain } => format!("{local}@{domain}"),
            AllowedSender::Domain(d) => format!("@{d}"),
            AllowedSender::DomainAndSubdomains(d) => d.clone(),
        }
    }

    fn allows(&self, local: &str, domain: &str) -> bool {
        match self {
            AllowedSender::Address { local: l, domain: d } => l == local && d == domain,
            AllowedSender::Domain(d) => d == domain,
            AllowedSender::DomainAndSubdomains(d) => d == domain || domain.ends_with(&format!(".{d}")),
        }
    }
}

/// Why an e-mail may not raise an alert. The address shown is the real one, never the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the From header holds no address")]
    NoAddress,
    #[error("the From headers hold {} addresses ({}); an alert needs exactly one", .0.len(), .0.join(", "))]
    SeveralAddresses(Vec<String>),
    #[error("the sender {0} is not an allowed sender ([filter] from)")]
    NotAllowed(String),
    #[error("the sender {address} is not authenticated by {authserv_id}: {reason}")]
    NotAuthenticated { address: String, authserv_id: String, reason: String },
}

impl Rejection {
    /// The sender's real address when there is one, for the journal.
    pub fn address(&self) -> String {
        match self {
            Rejection::NoAddress => String::new(),
            Rejection::SeveralAddresses(all) => all.join(", "),
            Rejection::NotAllowed(a) | Rejection::NotAuthenticated { address: a, .. } => a.clone(),
        }
    }
}

/// Who may raise an alert: the `[filter]` sender entries and the optional authentication check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderPolicy {
    pub allowed: Vec<AllowedSender>,
    /// `[filter] authserv_id`: the receiving server whose `Authentication-Results` count.
    pub authserv_id: Option<String>,
}

impl SenderPolicy {
    /// Checks the raw e-mail; Ok holds the sender's address (lower-case, ASCII domain).
    pub fn check(&self, raw: &[u8]) -> Result<String, Rejection> {
        let Some(message) = MessageParser::default().parse_headers(raw) else { return Err(Rejection::NoAddress) };
        // Every From header: a second one, or a list, is not one sender.
        let written: Vec<String> = message
            .header_values(HeaderName::From)
            .filter_map(|v| v.as_address())
            .flat_map(|a| a.iter().map(|addr| addr.address().unwrap_or_default().trim().to_owned()).collect::<Vec<_>>())
            .collect();
        let address = match written.as_slice() {
            [] => return Err(Rejection::NoAddress),
            [one] if !one.is_empty() => one.clone(),
            [_] => return Err(Rejection::NoAddress),
            many => return Err(Rejection::SeveralAddresses(many.to_vec())),
        };
        let Some((local, domain)) = split_address(&address) else { return Err(Rejection::NotAllowed(address)) };
        let normal = format!("{local}@{domain}");
        if !self.allowed.iter().any(|a| a.allows(&local, &domain)) {
            return Err(Rejection::NotAllowed(address));
        }
        if let Some(id) = &self.authserv_id {
            let results: Vec<&str> = message
                .headers_raw()
                .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
                .map(|(_, value)| value)
                .collect();
            authenticated(&results, id, &domain).map_err(|reason| Rejection::NotAuthenticated { address: normal.clone(), authserv_id: id.clone(), reason })?;
        }
        Ok(normal)
    }
}

/// `local@domain` split at its last `@`: the local part lower-cased, the domain through IDNA.
/// None when it is no address (no `@`, an empty side, a domain IDNA refuses).
fn split_address(address: &str) -> Option<(String, String)> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    if local.is_empty() || local.contains(char::is_whitespace) {
        return None;
    }
    Some((local.to_lowercase(), ascii_domain(domain).ok()?))
}

/// A domain as DNS knows it: IDNA (UTS #46) to ASCII, lower-case, no trailing dot.
fn ascii_domain(domain: &str) -> Result<String, String> {
    // One label is allowed: an intranet's mail (`sensor@cpd`) has no dot.
    let trimmed = domain.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(format!("{domain:?} is not a domain name"));
    }
    idna::domain_to_ascii(trimmed).map(|d| d.to_ascii_lowercase()).map_err(|_| format!("{domain:?} is not a valid domain name"))
}

/// Whether the topmost `Authentication-Results` header written by `authserv_id` (RFC 8601)
/// says the From domain was authenticated: `dmarc=pass`, or `dkim=pass` with an aligned
/// `header.d`, or `spf=pass` with an aligned `smtp.mailfrom`. Headers written by other servers,
/// and any below the topmost one of ours, are ignored: anyone can write them before the mail
/// reaches our server, which adds its own on top. Err says what was found instead.
///
/// Alignment is DMARC's relaxed one, approximated without the public-suffix list: the same
/// domain, or one a subdomain of the other, with at least two labels each.
pub fn authenticated(headers: &[&str], authserv_id: &str, from_domain: &str) -> Result<(), String> {
    let Some(ours) = headers.iter().find(|h| authserv(h).is_some_and(|id| id.eq_ignore_ascii_case(authserv_id))) else {
        return Err(format!("no Authentication-Results header from {authserv_id}"));
    };
    let mut seen = Vec::new();
    for result in results(ours) {
        let verdict = result.get("", "");
        let pass = verdict == Some("pass");
        let aligned = |d: Option<&str>| d.is_some_and(|d| aligned(from_domain, d.rsplit('@').next().unwrap_or(d)));
        match result.method.as_str() {
            "dmarc" if pass => return Ok(()),
            "dkim" if pass && aligned(result.get("header", "d")) => return Ok(()),
            "spf" if pass && aligned(result.get("smtp", "mailfrom")) => return Ok(()),
            "dmarc" | "dkim" | "spf" => seen.push(format!("{}={}", result.method, verdict.unwrap_or("?"))),
            _ => {}
        }
    }
    Err(if seen.is_empty() { "no DMARC, DKIM or SPF result".to_owned() } else { format!("{} (none passing and aligned with {from_domain})", seen.join(", ")) })
}

fn aligned(from: &str, other: &str) -> bool {
    let other = other.trim().trim_end_matches('.').to_ascii_lowercase();
    let two_labels = |d: &str| d.split('.').filter(|l| !l.is_empty()).count() >= 2;
    two_labels(from) && two_labels(&other) && (from == other || from.ends_with(&format!(".{other}")) || other.ends_with(&format!(".{from}")))
}

/// One `method=result ptype.prop=value …` of a header.
struct MethodResult {
    method: String,
    /// `("", "")` → the result; `("header", "d")` → `header.d`'s value.
    props: Vec<((String, String), String)>,
}

impl MethodResult {
    fn get(&self, ptype: &str, prop: &str) -> Option<&str> {
        self.props.iter().find(|((t, p), _)| t == ptype && p == prop).map(|(_, v)| v.as_str())
    }
}

/// The header's value without its comments (`(…)`, nested), as `;`-separated parts.
fn parts(value: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0u32, false);
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted || depth > 0 => {
                let next = chars.next();
                if depth == 0 {
                    cur.extend(next);
                }
            }
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

/// The authserv-id: the first word of the first part (a version number may follow).
fn authserv(value: &str) -> Option<String> {
    parts(value).first().and_then(|p| p.split_whitespace().next()).map(str::to_owned)
}

fn results(value: &str) -> Vec<MethodResult> {
    parts(value)
        .into_iter()
        .skip(1)
        .filter_map(|part| {
            let mut words = part.split_whitespace();
            let (method, result) = words.next()?.split_once('=')?;
            // `dkim/1=pass`: a method version.
            let method = method.split('/').next().unwrap_or(method).to_ascii_lowercase();
            let mut props = vec![((String::new(), String::new()), result.to_ascii_lowercase())];
            for w in words {
                if let Some((key, v)) = w.split_once('=') {
                    if let Some((ptype, prop)) = key.split_once('.') {
                        props.push(((ptype.to_ascii_lowercase(), prop.to_ascii_lowercase()), v.to_owned()));
                    }
                }
            }
            Some(MethodResult { method, props })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> SenderPolicy {
        SenderPolicy { allowed: entries.iter().map(|e| AllowedSender::parse(e).unwrap()).collect(), authserv_id: None }
    }

    fn mail(from_lines: &str) -> Vec<u8> {
        format!("{from_lines}Subject: ALERTA\r\n\r\nx\r\n").into_bytes()
    }

    #[test]
    fn only_the_real_address_counts() {
        let p = policy(&["servsensor@cpd.exemplo.com.br"]);
        let ok = |from: &str| p.check(&mail(&format!("From: {from}\r\n")));
        assert_eq!(ok("Sensor <servsensor@cpd.exemplo.com.br>"), Ok("servsensor@cpd.exemplo.com.br".into()));
        assert_eq!(ok("SERVSENSOR@CPD.Exemplo.com.br"), Ok("servsensor@cpd.exemplo.com.br".into()), "case does not matter");
        let cases = [
            ("\"servsensor@cpd.exemplo.com.br\" <x@attacker.example>", "display name"),
            ("servsensor@cpd.exemplo.com.br.attacker.example", "suffix domain"),
            ("xservsensor@cpd.exemplo.com.br", "prefix"),
            ("servsensor@sub.cpd.exemplo.com.br", "subdomain"),
            ("=?utf-8?q?servsensor=40cpd=2Eexemplo=2Ecom=2Ebr?= <x@attacker.example>", "encoded-word name"),
            ("servsensor@cpd.exemplo.com.br, x@attacker.example", "two addresses"),
            ("servsensor@cpd.ex\u{0435}mplo.com.br", "Cyrillic е"),
            ("servsensor\u{FF20}cpd.exemplo.com.br", "full-width ＠"),
        ];
        for (from, what) in cases {
            assert!(ok(from).is_err(), "{what}: {from} must be rejected");
        }
        let two = p.check(&mail("From: servsensor@cpd.exemplo.com.br\r\nFrom: x@attacker.example\r\n"));
        assert!(matches!(two, Err(Rejection::SeveralAddresses(_))), "two From headers: {two:?}");
        let e = ok("Sensor <x@attacker.example>").unwrap_err();
        assert_eq!(e.to_string(), "the sender x@attacker.example is not an allowed sender ([filter] from)");
    }

    #[test]
    fn domains_with_and_without_subdomains() {
        let p = policy(&["@cpd.exemplo.com.br", "@.monitor.example"]);
        let check = |from: &str| p.check(&mail(&format!("From: {from}\r\n"))).is_ok();
        assert!(check("a@cpd.exemplo.com.br") && check("b@CPD.exemplo.com.br"));
        assert!(!check("a@sub.cpd.exemplo.com.br"), "@domain: no subdomains");
        assert!(check("a@monitor.example") && check("a@rack1.monitor.example"));
        assert!(!check("a@evilmonitor.example"));
        // IDNA: the Unicode and the ASCII spelling of one domain are one domain.
        let p = policy(&["@sensor.são.example"]);
        assert!(p.check(&mail("From: a@sensor.xn--so-sia.example\r\n")).is_ok());
        assert!(AllowedSender::parse("not an address").is_err());
        assert!(AllowedSender::parse("@.com").is_err(), "a whole top-level domain");
        assert!(AllowedSender::parse("sensor@cpd").is_ok(), "an intranet address");
    }

    #[test]
    fn authentication_results_from_our_server_only() {
        let id = "mx.empresa.com.br";
        let check = |headers: &[&str]| authenticated(headers, id, "cpd.exemplo.com.br");
        assert!(check(&["mx.empresa.com.br; dmarc=pass header.from=cpd.exemplo.com.br"]).is_ok());
        assert!(check(&["mx.empresa.com.br 1; dkim=pass (good signature) header.d=exemplo.com.br header.s=sel"]).is_ok(), "relaxed alignment");
        assert!(check(&["mx.empresa.com.br; spf=pass smtp.mailfrom=bounce@cpd.exemplo.com.br"]).is_ok());
        let e = check(&["mx.empresa.com.br; dkim=pass header.d=attacker.example; spf=fail smtp.mailfrom=cpd.exemplo.com.br"]).unwrap_err();
        assert!(e.contains("dkim=pass") && e.contains("spf=fail"), "{e}");
        // A forged header below ours is ignored; so is another server's.
        assert!(check(&["mx.empresa.com.br; dmarc=fail", "mx.empresa.com.br; dmarc=pass"]).is_err());
        assert!(check(&["mx.attacker.example; dmarc=pass"]).unwrap_err().contains("no Authentication-Results header from"));
        assert!(check(&["mx.empresa.com.br (dmarc=pass); none"]).is_err(), "a comment says nothing");
        assert!(check(&["mx.empresa.com.br; dkim=pass header.d=example"]).is_err(), "a one-label domain aligns with nothing");
    }
}
