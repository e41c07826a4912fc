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
        let (local, domain) = split_address(entry)
            .ok_or_else(|| format!("{entry:?} is not an e-mail address, @domain or @.domain"))?;
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
            AllowedSender::DomainAndSubdomains(d) => {
                d == domain || domain.ends_with(&format!(".{d}"))
            }
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
    #[error("the From header {header:?} is not one plain address ({reason})")]
    Malformed { header: String, reason: String },
    #[error("the sender {0} is not an allowed sender ([filter] from)")]
    NotAllowed(String),
    #[error("the sender {address} is not authenticated by {authserv_id}: {reason}")]
    NotAuthenticated { address: String, authserv_id: String, reason: String },
}

impl Rejection {
    /// The sender's real address when there is one (empty when the header holds none, or
    /// none that reads as one), for the journal.
    pub fn address(&self) -> String {
        match self {
            // A malformed header has no real address; the reason quotes it.
            Rejection::NoAddress | Rejection::Malformed { .. } => String::new(),
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
    ///
    /// The From header is read twice: by mail-parser, and strictly here ([`one_mailbox`]), and
    /// both readings must agree on one address. mail-parser alone takes a phrase without an
    /// address (`"alarme@cpd.example" (y)`) for the address.
    pub fn check(&self, raw: &[u8]) -> Result<String, Rejection> {
        let Some(message) = MessageParser::default().parse_headers(raw) else {
            return Err(Rejection::NoAddress);
        };
        // Every From header: a second one, or a list, is not one sender.
        let written: Vec<String> = message
            .header_values(HeaderName::From)
            .filter_map(|v| v.as_address())
            .flat_map(|a| {
                a.iter()
                    .map(|addr| addr.address().unwrap_or_default().trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        let parsed = match written.as_slice() {
            [] => return Err(Rejection::NoAddress),
            [one] if !one.is_empty() => one.clone(),
            [_] => return Err(Rejection::NoAddress),
            many => return Err(Rejection::SeveralAddresses(many.to_vec())),
        };
        let raw_from: Vec<&str> = message
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("From"))
            .map(|(_, value)| value)
            .collect();
        let [raw_from] = raw_from.as_slice() else {
            return Err(Rejection::SeveralAddresses(vec![parsed]));
        };
        let malformed = |reason: String| Rejection::Malformed { header: shown(raw_from), reason };
        let (local, domain) = one_mailbox(raw_from).map_err(malformed)?;
        if !format!("{local}@{domain}").eq_ignore_ascii_case(&parsed) {
            return Err(malformed(format!(
                "read as {parsed:?} by the mail parser and as {local}@{domain} by the rules"
            )));
        }
        let Some((local, domain)) = split_address(&format!("{local}@{domain}")) else {
            return Err(Rejection::NotAllowed(parsed));
        };
        let normal = format!("{local}@{domain}");
        if !self.allowed.iter().any(|a| a.allows(&local, &domain)) {
            return Err(Rejection::NotAllowed(parsed));
        }
        if let Some(id) = &self.authserv_id {
            let results: Vec<&str> = message
                .headers_raw()
                .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
                .map(|(_, value)| value)
                .collect();
            authenticated(&results, id, &domain).map_err(|reason| Rejection::NotAuthenticated {
                address: normal.clone(),
                authserv_id: id.clone(),
                reason,
            })?;
        }
        Ok(normal)
    }
}

/// A header as the journal shows it: on one line, at most 200 characters.
fn shown(raw: &str) -> String {
    let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
}

/// The one mailbox a From header may hold, read strictly (RFC 5322 §3.4): an `addr-spec` alone,
/// or a display name (words, quoted or not) and `<addr-spec>`; comments anywhere between tokens.
/// Groups, lists, a route, a domain literal, a phrase without an address, anything after the
/// address, are refused. Ok is (local part, domain) as written.
fn one_mailbox(raw: &str) -> Result<(String, String), String> {
    use super::lexer::{tokens, Token, ADDRESS_SPECIALS};
    let toks = tokens(raw, ADDRESS_SPECIALS).map_err(|e| e.to_string())?;
    let addr_spec = match toks.iter().position(|t| t.is('<')) {
        None => &toks[..],
        Some(open) => {
            if !toks[..open].iter().all(|t| matches!(t, Token::Atom(_) | Token::Quoted(_))) {
                return Err("the display name holds more than words".into());
            }
            if toks.last().is_none_or(|t| !t.is('>'))
                || toks[open + 1..toks.len() - 1].iter().any(|t| t.is('<') || t.is('>'))
            {
                return Err("something before, after or around the <address>".into());
            }
            &toks[open + 1..toks.len() - 1]
        }
    };
    let (local, domain) = match addr_spec {
        [local, at, Token::Atom(domain)] if at.is('@') => (local, domain),
        [] | [_] if !toks.iter().any(|t| t.is('@')) => return Err("no address, only words".into()),
        _ => return Err("not one local-part@domain".into()),
    };
    let local = match local {
        Token::Atom(a) if dot_atom(a) => a.clone(),
        Token::Quoted(q) => q.clone(),
        _ => return Err("a local part that is not a word".into()),
    };
    if local.is_empty() || local.contains(['@', '"', '(', ')', '<', '>', '\\']) {
        return Err(format!("the local part {local:?} holds characters an address cannot"));
    }
    if !dot_atom(domain) {
        return Err(format!("{domain:?} is not a domain name"));
    }
    Ok((local, domain.clone()))
}

/// A dot-atom: words separated by single dots, none at either end.
fn dot_atom(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|w| !w.is_empty())
}

/// `local@domain` split at its last `@`: the local part lower-cased, the domain in ASCII.
/// None when it is no address (no `@`, an empty side, a domain IDNA refuses, or a domain written
/// in any form but its own: see [`domain_as_written`]).
fn split_address(address: &str) -> Option<(String, String)> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    if local.is_empty() || local.contains(char::is_whitespace) {
        return None;
    }
    Some((local.to_lowercase(), domain_as_written(domain)?))
}

/// The ASCII form of a domain written in an e-mail, only if it was already written in the form
/// it maps to: ASCII (any case, as DNS compares it), or exactly its Unicode U-labels. A
/// full-width or otherwise mapped spelling (`ｃｐｄ．example`) maps onto an allowed domain under
/// UTS #46, but the receiving server's SPF and DMARC looked up the name as written, which does
/// not exist: such a domain is no domain here.
fn domain_as_written(domain: &str) -> Option<String> {
    let ascii = ascii_domain(domain).ok()?;
    let written = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let (unicode, errors) = idna::domain_to_unicode(&ascii);
    (written == ascii || (errors.is_ok() && written == unicode)).then_some(ascii)
}

/// A domain as DNS knows it: IDNA (UTS #46) to ASCII, lower-case, no trailing dot.
fn ascii_domain(domain: &str) -> Result<String, String> {
    // One label is allowed: an intranet's mail (`sensor@cpd`) has no dot.
    let trimmed = domain.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(format!("{domain:?} is not a domain name"));
    }
    idna::domain_to_ascii(trimmed)
        .map(|d| d.to_ascii_lowercase())
        .map_err(|_| format!("{domain:?} is not a valid domain name"))
}

/// Whether the topmost `Authentication-Results` header written by `authserv_id` (RFC 8601)
/// says the From domain was authenticated. Headers written by other servers, and any below the
/// topmost one of ours, are ignored: anyone can write them before the mail reaches our server,
/// which adds its own on top. Err says what was found instead.
///
/// When that header has a `dmarc` result, it alone decides: a pass counts only for
/// `header.from` equal to the From domain (DMARC already did the alignment, on the domain it
/// names). Without one, a `dkim=pass` with an aligned `header.d`, or an `spf=pass` with an
/// aligned `smtp.mailfrom`, does. Alignment is DMARC's relaxed one, approximated without the
/// public-suffix list: the same domain, or one a subdomain of the other, two labels at least.
/// A header of ours that RFC 8601's grammar cannot read authenticates nothing.
pub fn authenticated(headers: &[&str], authserv_id: &str, from_domain: &str) -> Result<(), String> {
    let Some(ours) =
        headers.iter().find(|h| authserv(h).is_some_and(|id| id.eq_ignore_ascii_case(authserv_id)))
    else {
        return Err(format!("no Authentication-Results header from {authserv_id}"));
    };
    let results = results(ours)
        .map_err(|e| format!("its Authentication-Results header cannot be read ({e})"))?;
    if let Some(dmarc) = results.iter().find(|r| r.method == "dmarc") {
        let verdict = dmarc.result.as_str();
        let header_from = dmarc.get("header", "from").map(|d| d.domain.to_ascii_lowercase());
        return match (verdict, header_from) {
            ("pass", Some(d)) if d.trim_end_matches('.') == from_domain => Ok(()),
            ("pass", Some(d)) => Err(format!("dmarc=pass for header.from={d}, not {from_domain}")),
            ("pass", None) => Err("dmarc=pass without header.from".into()),
            (other, _) => Err(format!("dmarc={other}")),
        };
    }
    let mut seen = Vec::new();
    for result in &results {
        let pass = result.result == "pass";
        let aligned = |p: Option<&PropValue>| p.is_some_and(|p| aligned(from_domain, &p.domain));
        match result.method.as_str() {
            "dkim" if pass && aligned(result.get("header", "d")) => return Ok(()),
            "spf" if pass && aligned(result.get("smtp", "mailfrom")) => return Ok(()),
            "dkim" | "spf" => seen.push(format!("{}={}", result.method, result.result)),
            _ => {}
        }
    }
    Err(if seen.is_empty() {
        "no DMARC, DKIM or SPF result".to_owned()
    } else {
        format!("{} (none passing and aligned with {from_domain})", seen.join(", "))
    })
}

/// The authserv-id of an e-mail's first `Authentication-Results` header: a receiving server
/// that strips or overrides incoming headers with its own id puts its own on top. None when the
/// e-mail has none.
pub fn topmost_results_id(raw: &[u8]) -> Option<String> {
    let message = MessageParser::default().parse_headers(raw)?;
    let first = message
        .headers_raw()
        .find(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))?
        .1;
    authserv(first)
}

fn aligned(from: &str, other: &str) -> bool {
    let other = other.trim().trim_end_matches('.').to_ascii_lowercase();
    let two_labels = |d: &str| d.split('.').filter(|l| !l.is_empty()).count() >= 2;
    two_labels(from)
        && two_labels(&other)
        && (from == other
            || from.ends_with(&format!(".{other}"))
            || other.ends_with(&format!(".{from}")))
}

/// A `pvalue` (RFC 8601 §2.2): `value`, or `[local-part] "@" domain-name`. Only the domain is
/// compared: `"cpd.example y"@evil.example` is evil.example's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PropValue {
    domain: String,
}

/// One `method=result ptype.property=value …` of a header (a `resinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodResult {
    method: String,
    result: String,
    props: Vec<((String, String), PropValue)>,
}

impl MethodResult {
    fn get(&self, ptype: &str, property: &str) -> Option<&PropValue> {
        self.props.iter().find(|((t, p), _)| t == ptype && p == property).map(|(_, v)| v)
    }
}

/// The authserv-id: the header's first token, a `value` (a token or a quoted string).
fn authserv(value: &str) -> Option<String> {
    use super::lexer::{tokens, Token, RESULTS_SPECIALS};
    match tokens(value, RESULTS_SPECIALS).ok()?.into_iter().next()? {
        Token::Atom(a) | Token::Quoted(a) => Some(a),
        Token::Special(_) => None,
    }
}

/// RFC 8601 §2.2's `authres-header`, after its authserv-id: `[version] ( no-result / 1*( ";"
/// resinfo ) )`, each resinfo `methodspec [reasonspec] *propspec`.
fn results(value: &str) -> Result<Vec<MethodResult>, String> {
    use super::lexer::{tokens, Token, RESULTS_SPECIALS};
    let toks = tokens(value, RESULTS_SPECIALS).map_err(|e| e.to_string())?;
    let mut parts = toks.split(|t| t.is(';'));
    let head = parts.next().unwrap_or_default();
    match head {
        [Token::Atom(_) | Token::Quoted(_)]
        | [Token::Atom(_) | Token::Quoted(_), Token::Atom(_)] => {}
        _ => return Err("the authserv-id is not one value and a version".into()),
    }
    let word = |t: &Token| match t {
        Token::Atom(a) | Token::Quoted(a) => Some(a.clone()),
        Token::Special(_) => None,
    };
    let mut out = Vec::new();
    for part in parts {
        let mut rest = part;
        // `none`: no result (RFC 8601 §2.2, `no-result`).
        if matches!(rest, [Token::Atom(a)] if a.eq_ignore_ascii_case("none")) {
            continue;
        }
        let (method, result) = match rest {
            [Token::Atom(m), eq, Token::Atom(r), ..] if eq.is('=') => (m, r),
            _ => return Err(format!("a result that is not method=result: {rest:?}")),
        };
        rest = &rest[3..];
        let method = method.split('/').next().unwrap_or(method).to_ascii_lowercase();
        let mut props = Vec::new();
        while let [name, eq, ..] = rest {
            let Token::Atom(name) = name else {
                return Err(format!("{method}: a property name that is no word"));
            };
            if !eq.is('=') {
                return Err(format!("{method}: {name} without =value"));
            }
            rest = &rest[2..];
            // pvalue: `value`, `local-part@domain` or `@domain`.
            let (domain, used) = match rest {
                [local, at, Token::Atom(d), ..] if at.is('@') && word(local).is_some() => {
                    (d.clone(), 3)
                }
                [at, Token::Atom(d), ..] if at.is('@') => (d.clone(), 2),
                [v, ..] => (word(v).ok_or_else(|| format!("{method}: {name}= has no value"))?, 1),
                [] => return Err(format!("{method}: {name}= has no value")),
            };
            rest = &rest[used..];
            if name.eq_ignore_ascii_case("reason") {
                continue;
            }
            let (ptype, property) = name
                .split_once('.')
                .ok_or_else(|| format!("{method}: {name:?} is not ptype.property"))?;
            props.push((
                (ptype.to_ascii_lowercase(), property.to_ascii_lowercase()),
                PropValue { domain },
            ));
        }
        if !rest.is_empty() {
            return Err(format!("{method}: something after its properties"));
        }
        out.push(MethodResult { method, result: result.to_ascii_lowercase(), props });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> SenderPolicy {
        SenderPolicy {
            allowed: entries.iter().map(|e| AllowedSender::parse(e).unwrap()).collect(),
            authserv_id: None,
        }
    }

    fn mail(from_lines: &str) -> Vec<u8> {
        format!("{from_lines}Subject: ALERTA\r\n\r\nx\r\n").into_bytes()
    }

    #[test]
    fn only_the_real_address_counts() {
        let p = policy(&["servsensor@cpd.exemplo.com.br"]);
        let ok = |from: &str| p.check(&mail(&format!("From: {from}\r\n")));
        assert_eq!(
            ok("Sensor <servsensor@cpd.exemplo.com.br>"),
            Ok("servsensor@cpd.exemplo.com.br".into())
        );
        assert_eq!(
            ok("SERVSENSOR@CPD.Exemplo.com.br"),
            Ok("servsensor@cpd.exemplo.com.br".into()),
            "case does not matter"
        );
        let cases = [
            ("\"servsensor@cpd.exemplo.com.br\" <x@attacker.example>", "display name"),
            ("servsensor@cpd.exemplo.com.br.attacker.example", "suffix domain"),
            ("xservsensor@cpd.exemplo.com.br", "prefix"),
            ("servsensor@sub.cpd.exemplo.com.br", "subdomain"),
            (
                "=?utf-8?q?servsensor=40cpd=2Eexemplo=2Ecom=2Ebr?= <x@attacker.example>",
                "encoded-word name",
            ),
            ("servsensor@cpd.exemplo.com.br, x@attacker.example", "two addresses"),
            ("servsensor@cpd.ex\u{0435}mplo.com.br", "Cyrillic е"),
            ("servsensor\u{FF20}cpd.exemplo.com.br", "full-width ＠"),
        ];
        for (from, what) in cases {
            assert!(ok(from).is_err(), "{what}: {from} must be rejected");
        }
        let two =
            p.check(&mail("From: servsensor@cpd.exemplo.com.br\r\nFrom: x@attacker.example\r\n"));
        assert!(matches!(two, Err(Rejection::SeveralAddresses(_))), "two From headers: {two:?}");
        let e = ok("Sensor <x@attacker.example>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the sender x@attacker.example is not an allowed sender ([filter] from)"
        );
    }

    #[test]
    fn a_from_header_is_one_plain_mailbox_or_nothing() {
        let p = policy(&["@datacenter.example"]);
        let check = |from: &str| p.check(&mail(&format!("From: {from}\r\n")));
        // What RFC 5322 allows for one mailbox passes, comments and folding included.
        for ok in [
            "alarme@datacenter.example",
            "Alarme <alarme@datacenter.example>",
            "\"Alarme, CPD\" <alarme@datacenter.example>",
            "alarme@datacenter.example (sensor 1)",
            "Alarme (o sensor)\r\n <alarme(local)@datacenter.example>",
            "=?utf-8?q?Sala_fr=C3=ADa?= <alarme@datacenter.example>",
        ] {
            assert_eq!(check(ok), Ok("alarme@datacenter.example".into()), "{ok}");
        }
        let cases = [
            ("\"alarme@datacenter.example\" (y)", "a phrase and a comment, no address"),
            ("\"alarme@datacenter.example\"", "a quoted phrase alone"),
            ("alarme (@datacenter.example)", "the domain in a comment"),
            ("<a@evil.example> x@datacenter.example", "words after the address"),
            ("x@datacenter.example <a@evil.example>", "an address as the display name"),
            ("\"a@evil.example\"@datacenter.example", "@ in a quoted local part"),
            ("\"a(b\"@datacenter.example", "( in a quoted local part"),
            ("Grupo: alarme@datacenter.example;", "a group"),
            ("<@relay.example:alarme@datacenter.example>", "a source route"),
            ("alarme@[192.0.2.1]", "a domain literal"),
            ("alarme@datacenter.example (unclosed", "an unclosed comment"),
            ("alarme..x@datacenter.example", "an empty word in the local part"),
            ("alarme@datacenter..example", "an empty label"),
        ];
        for (from, what) in cases {
            assert!(check(from).is_err(), "{what}: {from} must be rejected, got {:?}", check(from));
        }
        let e = check("\"alarme@datacenter.example\" (y)").unwrap_err();
        assert!(matches!(&e, Rejection::Malformed { .. }), "{e:?}");
        assert!(e.to_string().contains("no address, only words"), "{e}");
        assert!(
            e.to_string().contains(r#""\"alarme@datacenter.example\" (y)""#),
            "the reason quotes the header: {e}"
        );
        assert_eq!(e.address(), "", "a phrase is no address, and never shown as the sender");
    }

    #[test]
    fn a_domain_counts_only_in_the_form_it_maps_to() {
        let p = policy(&["@datacenter.example", "@sensor.são.example"]);
        let check = |from: &str| p.check(&mail(&format!("From: {from}\r\n"))).is_ok();
        assert!(check("alarme@DataCenter.Example"), "ASCII in any case");
        assert!(
            check("a@sensor.são.example") && check("a@sensor.xn--so-sia.example"),
            "the exact U-label and its A-label"
        );
        assert!(!check("alarme@\u{ff44}\u{ff41}\u{ff54}\u{ff41}\u{ff43}\u{ff45}\u{ff4e}\u{ff54}\u{ff45}\u{ff52}\u{ff0e}\u{ff45}\u{ff58}\u{ff41}\u{ff4d}\u{ff50}\u{ff4c}\u{ff45}"), "full-width letters and dot");
        assert!(!check("alarme@datacenter\u{3002}example"), "an ideographic full stop");
        assert!(!check("a@sensor.SÃO.example"), "non-ASCII capitals map, so they are not the form");
        assert!(!check("alarme@data\u{00AD}center.example"), "a soft hyphen UTS #46 drops");
    }

    #[test]
    fn authentication_results_are_read_by_rfc_8601s_grammar() {
        let id = "mx.empresa.com.br";
        let check = |h: &str| authenticated(&[h], id, "datacenter.example");
        // A quoted value is one value: this is evil.example's envelope, not ours.
        assert!(check(
            "mx.empresa.com.br; spf=pass smtp.mailfrom=\"datacenter.example y\"@evil.example"
        )
        .is_err());
        assert!(
            check("mx.empresa.com.br; spf=pass smtp.mailfrom=\"x y\"@datacenter.example").is_ok()
        );
        assert!(check("mx.empresa.com.br; spf=pass smtp.mailfrom=@datacenter.example").is_ok());
        assert!(
            check("mx.empresa.com.br; dkim=pass header.d=\"datacenter.example\"").is_ok(),
            "a quoted value"
        );
        // DMARC, when there, decides alone, and only for the From domain.
        assert!(check("mx.empresa.com.br; dmarc=fail header.from=datacenter.example; dkim=pass header.d=datacenter.example").is_err());
        assert!(check("mx.empresa.com.br; dmarc=pass header.from=evil.example")
            .unwrap_err()
            .contains("header.from=evil.example"));
        assert!(check("mx.empresa.com.br; dmarc=pass")
            .unwrap_err()
            .contains("without header.from"));
        assert!(
            check("mx.empresa.com.br; dmarc=pass (p=none) header.from=DataCenter.example").is_ok()
        );
        // RFC 8601 appendix B's shapes: a version, reasons, comments, `none`.
        assert!(check("mx.empresa.com.br 1; none").is_err());
        assert!(check("mx.empresa.com.br 1; spf=pass reason=\"good; ok\" smtp.mailfrom=datacenter.example").is_ok(), "a ; inside a quoted reason");
        assert!(check(
            "\"mx.empresa.com.br\"; dkim/1=pass (sig ok) header.d=datacenter.example header.s=s1"
        )
        .is_ok());
        // What the grammar cannot read authenticates nothing.
        for bad in [
            "mx.empresa.com.br; spf pass",
            "mx.empresa.com.br; spf=pass smtp.mailfrom",
            "mx.empresa.com.br; spf=pass (unclosed",
            "mx.empresa.com.br; dkim=pass header.d=datacenter.example junk",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_topmost_results_header_is_the_receiving_servers() {
        let raw = |top: &str| {
            format!("Authentication-Results: {top}; none\r\nAuthentication-Results: mx.empresa.com.br; dmarc=pass\r\nFrom: a@b.example\r\n\r\nx").into_bytes()
        };
        assert_eq!(
            topmost_results_id(&raw("mx.empresa.com.br")).as_deref(),
            Some("mx.empresa.com.br")
        );
        assert_eq!(topmost_results_id(&raw("relay.example")).as_deref(), Some("relay.example"));
        assert_eq!(topmost_results_id(b"From: a@b.example\r\n\r\nx"), None);
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
        assert!(
            check(&["mx.empresa.com.br; spf=pass smtp.mailfrom=bounce@cpd.exemplo.com.br"]).is_ok()
        );
        let e = check(&["mx.empresa.com.br; dkim=pass header.d=attacker.example; spf=fail smtp.mailfrom=cpd.exemplo.com.br"]).unwrap_err();
        assert!(e.contains("dkim=pass") && e.contains("spf=fail"), "{e}");
        // A forged header below ours is ignored; so is another server's.
        assert!(check(&["mx.empresa.com.br; dmarc=fail", "mx.empresa.com.br; dmarc=pass"]).is_err());
        assert!(check(&["mx.attacker.example; dmarc=pass"])
            .unwrap_err()
            .contains("no Authentication-Results header from"));
        assert!(
            check(&["mx.empresa.com.br (dmarc=pass); none"]).is_err(),
            "a comment says nothing"
        );
        assert!(
            check(&["mx.empresa.com.br; dkim=pass header.d=example"]).is_err(),
            "a one-label domain aligns with nothing"
        );
    }
}
