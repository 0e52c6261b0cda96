//! Reading what the engineer pasted: a JSON body, a JSON envelope `{method, path, body}`, a small HTTP-like text
//! (`POST /api/v2/...`, optional headers, blank line, JSON), or a `curl` command line.
//!
//! Bodies are read leniently so that snippets from forum posts and code paste as they are: `#` and `//` comments,
//! trailing commas and Python's `True`/`False`/`None` are accepted.

use serde_json::Value;

/// What the input said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedInput {
    /// The method, if the input carries one.
    pub method: Option<String>,
    /// The path or URL (or SDK operation name), if the input carries one.
    pub path: Option<String>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

/// Why the input could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "WS"];

/// Parses the input text.
pub fn parse(text: &str) -> Result<ParsedInput, InputError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Ok(ParsedInput::default());
    }
    if trimmed.starts_with("curl ") || trimmed.starts_with("curl\t") {
        return parse_curl(trimmed);
    }
    if let Some(first) = first_line(trimmed) {
        let mut words = first.split_whitespace();
        if let (Some(m), Some(p)) = (words.next(), words.next()) {
            if METHODS.contains(&m.to_ascii_uppercase().as_str()) {
                return parse_http(trimmed, m, p);
            }
        }
    }
    let body = parse_json(trimmed)?;
    if let Some(obj) = body.as_object() {
        let is_envelope = obj.contains_key("method")
            && obj.contains_key("path")
            && obj.keys().all(|k| matches!(k.as_str(), "method" | "path" | "body" | "headers"));
        if is_envelope {
            return Ok(ParsedInput {
                method: obj.get("method").and_then(Value::as_str).map(str::to_string),
                path: obj.get("path").and_then(Value::as_str).map(str::to_string),
                body: obj.get("body").cloned().filter(|b| !b.is_null()),
            });
        }
    }
    Ok(ParsedInput { method: None, path: None, body: Some(body) })
}

/// The first line that is not blank and not a `#` comment.
fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'))
}

fn parse_http(text: &str, method: &str, path: &str) -> Result<ParsedInput, InputError> {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty() || l.trim().starts_with('#'));
    lines.next();
    // Headers until the first blank line (or until something that looks like JSON).
    let rest: Vec<&str> = lines.collect();
    let mut i = 0;
    while i < rest.len() {
        let l = rest[i].trim();
        if l.is_empty() {
            i += 1;
            break;
        }
        if l.starts_with('{') || l.starts_with('[') {
            break;
        }
        if !l.contains(':') {
            break;
        }
        i += 1;
    }
    let body_text = rest[i.min(rest.len())..].join("\n");
    let body = if body_text.trim().is_empty() { None } else { Some(parse_json(&body_text)?) };
    Ok(ParsedInput { method: Some(method.to_ascii_uppercase()), path: Some(path.to_string()), body })
}

fn parse_curl(text: &str) -> Result<ParsedInput, InputError> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let words = shell_words(&joined)?;
    let mut method = None;
    let mut url = None;
    let mut data = None;
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        match w.as_str() {
            "-X" | "--request" => method = it.next().cloned(),
            "-d" | "--data" | "--data-raw" | "--data-binary" | "--json" => data = it.next().cloned(),
            "-H" | "--header" | "-u" | "--user" | "-o" | "--output" | "-A" | "--user-agent" => {
                it.next();
            }
            s if !s.starts_with('-') && url.is_none() => url = Some(s.to_string()),
            _ => {}
        }
    }
    let body = match data {
        Some(d) if !d.trim().is_empty() => Some(parse_json(&d)?),
        _ => None,
    };
    let method = method.unwrap_or_else(|| if body.is_some() { "POST".into() } else { "GET".into() });
    Ok(ParsedInput { method: Some(method.to_ascii_uppercase()), path: url, body })
}

/// Splits a command line into words, honouring single and double quotes.
fn shell_words(s: &str) -> Result<Vec<String>, InputError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(InputError("unterminated ' in the curl command".into())),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(x) = chars.next() {
                                cur.push(x);
                            }
                        }
                        Some(x) => cur.push(x),
                        None => return Err(InputError("unterminated \" in the curl command".into())),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Parses JSON, leniently: strict first, then with comments, trailing commas and Python literals fixed.
pub fn parse_json(text: &str) -> Result<Value, InputError> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(v),
        Err(strict) => serde_json::from_str::<Value>(&relax(text))
            .map_err(|_| InputError(format!("the body is not JSON: {strict}"))),
    }
}

/// Removes comments and trailing commas, and maps `True`/`False`/`None`, outside string literals.
fn relax(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut in_str = false;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.get(i + 1) {
                    out.push(*n);
                    i += 1;
                }
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            ',' => {
                let next = chars[i + 1..].iter().find(|x| !x.is_whitespace());
                if !matches!(next, Some('}') | Some(']')) {
                    out.push(c);
                }
            }
            _ => {
                let rest: String = chars[i..chars.len().min(i + 5)].iter().collect();
                let boundary = i == 0 || !chars[i - 1].is_alphanumeric();
                let mapped = [("True", "true"), ("False", "false"), ("None", "null")]
                    .iter()
                    .find(|(py, _)| boundary && rest.starts_with(py))
                    .filter(|(py, _)| chars.get(i + py.len()).is_none_or(|x| !x.is_alphanumeric()));
                if let Some((py, js)) = mapped {
                    out.push_str(js);
                    i += py.len();
                    continue;
                }
                out.push(c);
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_like_text() {
        let p = parse("POST /api/v2/x\nContent-Type: application/json\n\n{\"a\": 1}").unwrap_or_default();
        assert_eq!(p.method.as_deref(), Some("POST"));
        assert_eq!(p.path.as_deref(), Some("/api/v2/x"));
        assert_eq!(p.body, Some(serde_json::json!({"a": 1})));
    }

    #[test]
    fn lenient_json() {
        let v = parse_json("{\n \"a\": \"x # not a comment\", # comment\n \"b\": True,\n}").unwrap_or_default();
        assert_eq!(v, serde_json::json!({"a": "x # not a comment", "b": true}));
    }

    #[test]
    fn curl_command() {
        let p = parse("curl -X POST \"https://api.mypurecloud.com/api/v2/x\" \\\n -H \"A: b\" \\\n -d '{\"t\": 1}'")
            .unwrap_or_default();
        assert_eq!(p.method.as_deref(), Some("POST"));
        assert_eq!(p.path.as_deref(), Some("https://api.mypurecloud.com/api/v2/x"));
        assert_eq!(p.body, Some(serde_json::json!({"t": 1})));
    }
}
