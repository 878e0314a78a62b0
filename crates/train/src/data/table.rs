//! The user's own data: CSV (RFC 4180 quoting), TSV (quoting off, as GLUE) or JSON Lines, with a header
//! (or keys) naming the columns that hold `text_a`, optional `text_b` and `label`.

use super::{DataError, Example, Result};
use std::path::Path;

/// Which columns hold the example's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMap {
    pub text_a: String,
    pub text_b: Option<String>,
    pub label: String,
}

/// Reads a `.csv`, `.tsv` or `.jsonl` file by its extension. Missing columns and short rows are errors
/// naming the file (and line).
pub fn read_table(path: &Path, columns: &ColumnMap) -> Result<Vec<Example>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let rows = match ext.as_str() {
        "csv" => read_csv(path, columns)?,
        "tsv" => read_tsv(path, columns)?,
        "jsonl" | "json" => read_jsonl(path, columns)?,
        _ => {
            return Err(DataError::File {
                path: path.into(),
                message: "unknown format: use a .csv, .tsv or .jsonl file".into(),
            })
        }
    };
    if rows.is_empty() {
        return Err(DataError::File { path: path.into(), message: "no examples".into() });
    }
    Ok(rows)
}

/// Positions of the mapped columns in a header.
fn positions(header: &[&str], columns: &ColumnMap, path: &Path) -> Result<(usize, Option<usize>, usize)> {
    let find = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| DataError::File {
            path: path.into(),
            message: format!("no column {name:?} in the header {header:?}"),
        })
    };
    Ok((find(&columns.text_a)?, columns.text_b.as_deref().map(find).transpose()?, find(&columns.label)?))
}

fn example(fields: &[&str], pos: (usize, Option<usize>, usize), path: &Path, line: usize) -> Result<Example> {
    let need = pos.0.max(pos.1.unwrap_or(0)).max(pos.2);
    if fields.len() <= need {
        return Err(DataError::Row {
            path: path.into(),
            line,
            message: format!("{} fields, the column mapping needs {}", fields.len(), need + 1),
        });
    }
    Ok(Example {
        text_a: fields[pos.0].to_string(),
        text_b: pos.1.map(|b| fields[b].to_string()),
        label: Some(fields[pos.2].trim().to_string()),
    })
}

fn read_tsv(path: &Path, columns: &ColumnMap) -> Result<Vec<Example>> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else { return Ok(Vec::new()) };
    let header: Vec<&str> = header.trim_end_matches('\r').split('\t').collect();
    let pos = positions(&header, columns, path)?;
    lines
        .map(|(i, l)| example(&l.trim_end_matches('\r').split('\t').collect::<Vec<_>>(), pos, path, i + 1))
        .collect()
}

fn read_csv(path: &Path, columns: &ColumnMap) -> Result<Vec<Example>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| DataError::File { path: path.into(), message: e.to_string() })?;
    let header =
        reader.headers().map_err(|e| DataError::File { path: path.into(), message: e.to_string() })?.clone();
    let header: Vec<&str> = header.iter().map(|h| h.trim_start_matches('\u{feff}')).collect();
    let pos = positions(&header, columns, path)?;
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            DataError::Row { path: path.into(), line, message: e.to_string() }
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        out.push(example(&record.iter().collect::<Vec<_>>(), pos, path, line)?);
    }
    Ok(out)
}

fn read_jsonl(path: &Path, columns: &ColumnMap) -> Result<Vec<Example>> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row_err = |message: String| DataError::Row { path: path.into(), line: i + 1, message };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| row_err(format!("invalid JSON: {e}")))?;
        let field = |key: &str| -> Result<String> {
            match v.get(key) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                Some(serde_json::Value::Bool(b)) => Ok(b.to_string()),
                _ => Err(row_err(format!("missing or non-scalar field {key:?}"))),
            }
        };
        out.push(Example {
            text_a: field(&columns.text_a)?,
            text_b: columns.text_b.as_deref().map(field).transpose()?,
            label: Some(field(&columns.label)?),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(b: bool) -> ColumnMap {
        ColumnMap { text_a: "premise".into(), text_b: b.then(|| "hypothesis".into()), label: "gold".into() }
    }

    #[test]
    fn csv_tsv_and_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("d.csv");
        std::fs::write(&csv, "id,premise,hypothesis,gold\n1,\"A, quoted\",B,yes\n2,C,\"D \"\"x\"\"\",no\n")
            .unwrap();
        let ex = read_table(&csv, &map(true)).unwrap();
        assert_eq!(
            (ex[0].text_a.as_str(), ex[1].text_b.as_deref(), ex[1].label.as_deref()),
            ("A, quoted", Some("D \"x\""), Some("no"))
        );
        let tsv = dir.path().join("d.tsv");
        std::fs::write(&tsv, "gold\tpremise\n1\t\"raw\" quote\n").unwrap();
        let ex = read_table(&tsv, &map(false)).unwrap();
        assert_eq!((ex[0].text_a.as_str(), ex[0].label.as_deref()), ("\"raw\" quote", Some("1")));
        let jsonl = dir.path().join("d.jsonl");
        std::fs::write(&jsonl, "{\"premise\": \"p\", \"gold\": 2}\n").unwrap();
        assert_eq!(read_table(&jsonl, &map(false)).unwrap()[0].label.as_deref(), Some("2"));
    }

    #[test]
    fn errors_name_file_column_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("d.tsv");
        std::fs::write(&tsv, "premise\tlabel\na\t1\n").unwrap();
        let err = read_table(&tsv, &map(false)).unwrap_err().to_string();
        assert!(err.contains("d.tsv") && err.contains("\"gold\""), "{err}");
        std::fs::write(&tsv, "premise\tgold\na\t1\nonly\n").unwrap();
        let err = read_table(&tsv, &map(false)).unwrap_err().to_string();
        assert!(err.contains("d.tsv:3"), "{err}");
        let other = dir.path().join("d.parquet");
        std::fs::write(&other, "x").unwrap();
        assert!(read_table(&other, &map(false)).unwrap_err().to_string().contains("unknown format"));
    }
}
