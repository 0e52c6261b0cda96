//! `${VAR}` expansion in config string values.
//!
//! Secrets come from the environment, never from the file. Expansion happens on parsed string values (not on the
//! raw text), so a secret containing quotes or newlines cannot break the TOML. `${VAR:-default}` gives a default.

use herald_core::ConfigProblem;

/// Expand every `${VAR}` in every string of `value`, recording a problem (with key path) for each unset variable.
pub fn expand_tree(
    value: &mut toml::Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigProblem>,
) {
    match value {
        toml::Value::String(s) => match expand(s, lookup) {
            Ok(expanded) => *s = expanded,
            Err(var) => problems.push(ConfigProblem::new(
                path,
                format!("environment variable `{var}` is not set; export it or write `${{{var}:-default}}`"),
            )),
        },
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_tree(item, &format!("{path}[{i}]"), lookup, problems);
            }
        }
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                expand_tree(v, &child, lookup, problems);
            }
        }
        _ => {}
    }
}

/// Expand `${VAR}` and `${VAR:-default}` in one string. `$$` is a literal `$`. Returns the unset variable's name.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(close) = body.find('}') else {
                out.push_str(&rest[pos..]);
                return Ok(out);
            };
            let spec = &body[..close];
            let (name, default) = match spec.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (spec, None),
            };
            match lookup(name).filter(|v| !v.is_empty()).or(default.map(str::to_string)) {
                Some(v) => out.push_str(&v),
                None => return Err(name.to_string()),
            }
            rest = &body[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "s3cr\"et".to_string())
    }

    #[test]
    fn expands_defaults_and_literals() {
        assert_eq!(expand("a ${KEY} b", &env).unwrap(), "a s3cr\"et b");
        assert_eq!(expand("${NOPE:-x}", &env).unwrap(), "x");
        assert_eq!(expand("cost $$5 $x", &env).unwrap(), "cost $5 $x");
        assert_eq!(expand("${NOPE}", &env).unwrap_err(), "NOPE");
    }

    #[test]
    fn tree_expansion_reports_paths() {
        let mut v: toml::Value = toml::from_str("[service]\napi_keys = [\"${KEY}\", \"${MISSING}\"]").unwrap();
        let mut problems = Vec::new();
        expand_tree(&mut v, "", &env, &mut problems);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "service.api_keys[1]");
        assert_eq!(v["service"]["api_keys"][0].as_str(), Some("s3cr\"et"));
    }
}
