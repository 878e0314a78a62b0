//! Examples from a JSON Lines file: one object per line with `text_a`, optional `text_b` and `label`.

use super::{DataError, Example, Result};
use std::path::Path;

pub fn read_jsonl(path: &Path) -> Result<Vec<Example>> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row_err = |message: String| DataError::Row { path: path.into(), line: i + 1, message };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| row_err(format!("invalid JSON: {e}")))?;
        let text = |key: &str| -> Result<Option<String>> {
            match v.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(row_err(format!("field {key:?} must be a string, found {other}"))),
            }
        };
        let text_a = text("text_a")?.ok_or_else(|| row_err("missing field \"text_a\"".into()))?;
        let label = match v.get("label") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        out.push(Example { text_a, text_b: text("text_b")?, label });
    }
    if out.is_empty() {
        return Err(DataError::File { path: path.into(), message: "no examples (the file is empty)".into() });
    }
    Ok(out)
}
