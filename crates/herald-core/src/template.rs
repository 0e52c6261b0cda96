//! `{{placeholder}}` templates.
//!
//! One renderer for rule templates and Genesys canned responses (whose substitutions are written `{{ID}}` and are
//! not rendered by the REST API: the client must fill them). A placeholder with no value is an error naming it,
//! never an empty string sent to a customer.

/// A placeholder had no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no value for placeholder `{{{{{name}}}}}`; provide `variables.{name}` or a default")]
pub struct MissingPlaceholder {
    /// The placeholder's name.
    pub name: String,
}

/// The placeholder names in `template`, in order of first appearance, without duplicates.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, name, _) in scan(template) {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// Fill every `{{name}}` (spaces inside the braces allowed) with `lookup(name)`.
pub fn render(template: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, MissingPlaceholder> {
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    for (start, name, end) in scan(template) {
        out.push_str(&template[last..start]);
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => return Err(MissingPlaceholder { name: name.to_string() }),
        }
        last = end;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

/// (start, trimmed name, end) of each well-formed placeholder.
fn scan(template: &str) -> Vec<(usize, &str, usize)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = template[from..].find("{{") {
        let start = from + open;
        let Some(close) = template[start + 2..].find("}}") else { break };
        let end = start + 2 + close + 2;
        let name = template[start + 2..start + 2 + close].trim();
        let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if valid {
            found.push((start, name, end));
            from = end;
        } else {
            from = start + 2;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_names_missing() {
        let vars = |n: &str| match n {
            "AGENT_NAME" => Some("Bo".to_string()),
            "order" => Some("A-1".to_string()),
            _ => None,
        };
        assert_eq!(render("Hi, I'm {{AGENT_NAME}}; order {{ order }}.", vars).unwrap(), "Hi, I'm Bo; order A-1.");
        let err = render("Dear {{CUSTOMER_NAME}}", vars).unwrap_err();
        assert_eq!(err.name, "CUSTOMER_NAME");
        assert!(err.to_string().contains("`{{CUSTOMER_NAME}}`"), "{err}");
    }

    #[test]
    fn lists_placeholders_once_and_ignores_malformed() {
        assert_eq!(placeholders("{{a}} {{b}} {{a}} {{ }} {{x y}} {{c"), vec!["a", "b"]);
        assert_eq!(render("{{ }} plain {", |_| None).unwrap(), "{{ }} plain {");
    }
}
