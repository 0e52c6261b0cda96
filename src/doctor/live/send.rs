//! The `--send` step: the filled request is checked again, sent once when nothing stands in the way, and the
//! upstream's real answer — status, `ININ-Correlation-Id`, body or ErrorBody fields — is printed as it came.
//!
//! Every reason not to send is said ([`LiveReport::not_sent`]): a guest WebSocket frame, no token, a placeholder
//! left, or findings the filled request still has. Nothing is retried: one `--send` is one request.

use std::fmt::Write as _;

use super::genesys::{Answer, GenesysClient};
use super::report::{write_json, LiveReport};
use crate::doctor::diagnose::diagnose;
use crate::doctor::report::{CorrectedRequest, Report, Severity};

/// Checks the filled request `req` again (noting the findings it still has) and, when `send`, sends it with
/// `client`, recording the answer, or why it was not sent, in `live`. Needs `live.unresolved` set.
pub(super) async fn recheck_and_send(
    live: &mut LiveReport,
    req: &CorrectedRequest,
    client: Option<&GenesysClient>,
    send: bool,
) {
    let still_wrong = (live.unresolved.is_empty() && req.method != "WS")
        .then(|| diagnose(&req.method, &req.path, req.body.as_ref()))
        .filter(Report::has_errors);
    if let Some(again) = &still_wrong {
        let what: Vec<String> = again
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{} {}", f.path, f.message))
            .collect();
        live.notes.push(format!("the filled request still has findings: {}", what.join("; ")));
    }
    if !send {
        return;
    }
    live.not_sent = if req.method == "WS" {
        Some("a guest WebSocket frame is sent by a guest over the socket, not by herald doctor".into())
    } else if client.is_none() {
        Some("no Genesys token for the integration (see errors)".into())
    } else if !live.unresolved.is_empty() {
        let names: Vec<&str> = live.unresolved.iter().map(|u| u.name.as_str()).collect();
        Some(format!("unresolved placeholders: {} (see unresolved)", names.join(", ")))
    } else if still_wrong.is_some() {
        Some("the request would be rejected (see notes)".into())
    } else {
        None
    };
    if let (None, Some(c)) = (&live.not_sent, client) {
        match c.call(&req.method, &req.path, req.body.as_ref()).await {
            Ok(answer) => live.sent = Some(answer),
            Err(e) => {
                live.errors.push(e);
                live.not_sent = Some("the request did not reach Genesys (see errors)".into());
            }
        }
    }
}

/// The text of the `--send` outcome: the answer (`sent` or `sent, refused`, with the correlation id and the
/// ErrorBody's `code`, `message`, `contextId` and fields, or the body), then why it was not sent.
pub(super) fn write_outcome(out: &mut String, sent: Option<&Answer>, not_sent: Option<&str>) {
    if let Some(a) = sent {
        let verb = if a.is_success() { "sent" } else { "sent, refused" };
        let corr = a.correlation_id.as_deref().unwrap_or("(none)");
        let _ = writeln!(out, "\n{verb}: {} {}  ININ-Correlation-Id: {corr}", a.status, a.reason);
        if let Some(e) = &a.error {
            let _ = writeln!(out, "  code:      {}", e.code.as_deref().unwrap_or("(none)"));
            let _ = writeln!(out, "  message:   {}", e.message.as_deref().unwrap_or("(none)"));
            let _ = writeln!(out, "  contextId: {}", e.context_id.as_deref().unwrap_or("(none)"));
            if !e.fields.is_empty() {
                let _ = writeln!(out, "  fields:    {}", e.fields.join(", "));
            }
        } else if !a.body.is_null() {
            write_json(out, &a.body);
        }
    }
    if let Some(n) = not_sent {
        let _ = writeln!(out, "\nnot sent: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::live::genesys::UpstreamError;
    use serde_json::{json, Value};

    #[test]
    fn a_refusal_prints_the_error_body_fields_and_the_correlation_id() {
        let refused = Answer {
            status: 400,
            reason: "Bad Request".into(),
            correlation_id: Some("corr-1".into()),
            body: json!({"code": "bad.request"}),
            error: Some(UpstreamError {
                message: Some("no".into()),
                code: Some("bad.request".into()),
                context_id: Some("corr-1".into()),
                fields: vec!["textBody".into()],
            }),
        };
        let mut out = String::new();
        write_outcome(&mut out, Some(&refused), None);
        assert_eq!(
            out,
            "\nsent, refused: 400 Bad Request  ININ-Correlation-Id: corr-1\n  code:      bad.request\n  \
             message:   no\n  contextId: corr-1\n  fields:    textBody\n"
        );
        let mut out = String::new();
        let empty =
            Answer { status: 202, reason: "Accepted".into(), correlation_id: None, body: Value::Null, error: None };
        write_outcome(&mut out, Some(&empty), Some("x"));
        assert_eq!(out, "\nsent: 202 Accepted  ININ-Correlation-Id: (none)\n\nnot sent: x\n");
    }
}
