//! Parquet and Arrow data as Hugging Face keeps it: Hub Parquet files, the `datasets` cache's Arrow
//! stream files, `save_to_disk` folders, and Arrow IPC files (feather v2), read with arrow-rs.
//!
//! Only the columns a run needs are read. Text columns may be any Arrow string type (`string`,
//! `large_string`, `string_view`, or a dictionary of these); labels may be integers, floats or strings.
//! `datasets` stores a `ClassLabel` as integers and keeps the class names in the schema's `huggingface`
//! metadata (and, in a `save_to_disk` folder, in `dataset_info.json`): they come back as
//! [`Columns::class_names`].

use super::{DataError, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use std::path::{Path, PathBuf};

/// The values of a label column, by Arrow type family.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelValues {
    Ints(Vec<Option<i64>>),
    Floats(Vec<Option<f64>>),
    Strings(Vec<Option<String>>),
}

impl LabelValues {
    fn extend(&mut self, other: LabelValues) -> bool {
        match (self, other) {
            (LabelValues::Ints(a), LabelValues::Ints(b)) => a.extend(b),
            (LabelValues::Floats(a), LabelValues::Floats(b)) => a.extend(b),
            (LabelValues::Strings(a), LabelValues::Strings(b)) => a.extend(b),
            _ => return false,
        }
        true
    }
}

/// The columns a run reads from one split, in row order.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns {
    /// The file or folder read (the first one, when a split spans several files).
    pub path: PathBuf,
    pub text_a: Vec<Option<String>>,
    pub text_b: Option<Vec<Option<String>>>,
    pub label: Option<LabelValues>,
    /// The columns' names (text, second text, label) and the label's Arrow type, for messages.
    pub text_columns: (String, Option<String>),
    pub label_column: String,
    pub label_type: Option<DataType>,
    /// `ClassLabel` names of the label column, in label-id order, when the data has them.
    pub class_names: Option<Vec<String>>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.text_a.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text_a.is_empty()
    }

    /// Appends the rows of another file of the same split (a sharded Hub split).
    pub fn append(&mut self, other: Columns) -> Result<()> {
        let mismatch = |what: &str| DataError::File {
            path: other.path.clone(),
            message: format!(
                "its {what} differs from that of {}, the split's first file",
                self.path.display()
            ),
        };
        if self.class_names != other.class_names {
            return Err(mismatch(&format!("{:?} ClassLabel names", self.label_column)));
        }
        self.text_a.extend(other.text_a);
        match (&mut self.text_b, other.text_b) {
            (Some(a), Some(b)) => a.extend(b),
            (None, None) => {}
            _ => return Err(mismatch("second text column")),
        }
        let same_type = match (&mut self.label, other.label) {
            (Some(a), Some(b)) => a.extend(b),
            (a, b) => a.is_none() && b.is_none(),
        };
        if !same_type {
            return Err(mismatch(&format!("{:?} column's type", self.label_column)));
        }
        Ok(())
    }
}

/// Which columns to read; `label: None` reads text only.
pub struct Wanted<'a> {
    pub text_a: &'a str,
    pub text_b: Option<&'a str>,
    pub label: Option<&'a str>,
}

/// Whether `path` is read by [`read_columns`]: a `.parquet`, `.arrow`, `.feather` or `.ipc` file, or a
/// folder (`save_to_disk`).
pub fn is_columnar(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    path.is_dir() || matches!(ext.as_str(), "parquet" | "pq" | "arrow" | "feather" | "ipc")
}

/// Reads the wanted columns of a Parquet file, an Arrow IPC file or stream, or a `save_to_disk` folder.
pub fn read_columns(path: &Path, wanted: &Wanted) -> Result<Columns> {
    if path.is_dir() {
        return read_saved_folder(path, wanted);
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let file_err = |message: String| DataError::File { path: path.into(), message };
    let (schema, batches) = match ext.as_str() {
        "parquet" | "pq" => read_parquet(path, wanted)?,
        "arrow" | "feather" | "ipc" => read_ipc(path, wanted)?,
        _ => return Err(file_err("unknown format: use a .parquet, .arrow or .feather file".into())),
    };
    let mut cols = columns_of(path, &schema, &batches, wanted)?;
    if cols.class_names.is_none() {
        if let Some(label) = wanted.label {
            cols.class_names = class_names_in(schema.metadata().get("huggingface"), label);
        }
    }
    Ok(cols)
}

/// A `save_to_disk` folder: its Arrow stream files in the order `state.json` lists them, with the
/// features of `dataset_info.json` when the files' own metadata lacks them.
fn read_saved_folder(dir: &Path, wanted: &Wanted) -> Result<Columns> {
    let folder_err = |message: String| DataError::File { path: dir.into(), message };
    if let Ok(text) = std::fs::read_to_string(dir.join("dataset_dict.json")) {
        let splits = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["splits"].as_array().cloned())
            .unwrap_or_default();
        let names: Vec<&str> = splits.iter().filter_map(|s| s.as_str()).collect();
        return Err(folder_err(format!(
            "a DatasetDict saved with save_to_disk: give one split's folder ({})",
            names.iter().map(|n| dir.join(n).display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    let state_path = dir.join("state.json");
    let state = std::fs::read_to_string(&state_path)
        .map_err(|_| folder_err("not a save_to_disk folder (no state.json, no dataset_dict.json)".into()))?;
    let state: serde_json::Value = serde_json::from_str(&state)
        .map_err(|e| DataError::File { path: state_path.clone(), message: format!("invalid JSON: {e}") })?;
    let files: Vec<&str> = state["_data_files"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["filename"].as_str()).collect())
        .unwrap_or_default();
    if files.is_empty() {
        return Err(DataError::File { path: state_path, message: "no _data_files listed".into() });
    }
    let mut all: Option<Columns> = None;
    for f in files {
        let cols = read_columns(&dir.join(f), wanted)?;
        match &mut all {
            None => all = Some(cols),
            Some(a) => a.append(cols)?,
        }
    }
    let mut all = all.expect("at least one file");
    if let (None, Some(label)) = (&all.class_names, wanted.label) {
        let info = std::fs::read_to_string(dir.join("dataset_info.json")).ok();
        let features = info.and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        all.class_names = features.and_then(|v| class_label(&v["features"], label));
    }
    all.path = dir.to_path_buf();
    Ok(all)
}

/// `ClassLabel` names of `column` in a `huggingface` schema metadata value (`{"info": {"features":
/// ...}}`, as `datasets` writes it).
pub fn class_names_in(metadata: Option<&String>, column: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(metadata?).ok()?;
    class_label(&v["info"]["features"], column).or_else(|| class_label(&v["features"], column))
}

fn class_label(features: &serde_json::Value, column: &str) -> Option<Vec<String>> {
    let f = &features[column];
    (f["_type"] == "ClassLabel")
        .then(|| {
            f["names"].as_array().map(|n| n.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        })
        .flatten()
}

/// Positions of the wanted columns in `schema`, refusing absent and non-scalar ones by name and type.
fn positions(path: &Path, schema: &SchemaRef, wanted: &Wanted) -> Result<Vec<usize>> {
    let names = [Some(wanted.text_a), wanted.text_b, wanted.label];
    let mut out = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let Some(name) = name else { continue };
        let Ok(pos) = schema.index_of(name) else {
            let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(DataError::File {
                path: path.into(),
                message: format!("no column {name:?} (columns: {})", have.join(", ")),
            });
        };
        let ty = schema.field(pos).data_type();
        let ok = if i < 2 { is_text(ty) } else { is_text(ty) || ty.is_integer() || ty.is_floating() };
        if !ok {
            let want = if i < 2 { "text (a string column)" } else { "an integer, float or string label" };
            return Err(DataError::File {
                path: path.into(),
                message: format!("column {name:?} is {ty}, not {want}"),
            });
        }
        if !out.contains(&pos) {
            out.push(pos);
        }
    }
    Ok(out)
}

fn is_text(ty: &DataType) -> bool {
    match ty {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_text(values),
        _ => false,
    }
}

fn read_parquet(path: &Path, wanted: &Wanted) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ProjectionMask;
    let err = |e: &dyn std::fmt::Display| DataError::File { path: path.into(), message: e.to_string() };
    let file = std::fs::File::open(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
    let schema = builder.schema().clone();
    let roots = positions(path, &schema, wanted)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder.with_projection(mask).build().map_err(|e| err(&e))?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| err(&e))?;
    Ok((schema, batches))
}

/// Arrow IPC: the file format (`ARROW1` magic: feather v2, `pa.ipc.new_file`) or the stream format
/// (what `datasets` writes into its cache and `save_to_disk` folders).
fn read_ipc(path: &Path, wanted: &Wanted) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    use arrow_ipc::reader::{FileReader, StreamReader};
    use std::io::Read;
    let err = |e: &dyn std::fmt::Display| DataError::File { path: path.into(), message: e.to_string() };
    let open = || std::fs::File::open(path).map_err(|source| DataError::Io { path: path.into(), source });
    let mut magic = [0u8; 6];
    let is_file_format = open()?.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
    if is_file_format {
        let schema = FileReader::try_new_buffered(open()?, None).map_err(|e| err(&e))?.schema();
        let proj = positions(path, &schema, wanted)?;
        let reader = FileReader::try_new_buffered(open()?, Some(proj)).map_err(|e| err(&e))?;
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| err(&e))?;
        Ok((schema, batches))
    } else {
        let schema = StreamReader::try_new_buffered(open()?, None).map_err(|e| err(&e))?.schema();
        let proj = positions(path, &schema, wanted)?;
        let reader = StreamReader::try_new_buffered(open()?, Some(proj)).map_err(|e| err(&e))?;
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| err(&e))?;
        Ok((schema, batches))
    }
}

fn columns_of(path: &Path, schema: &SchemaRef, batches: &[RecordBatch], wanted: &Wanted) -> Result<Columns> {
    let column = |batch: &RecordBatch, name: &str| {
        batch.column_by_name(name).cloned().ok_or_else(|| DataError::File {
            path: path.into(),
            message: format!("column {name:?} missing from a record batch"),
        })
    };
    let mut text_a = Vec::new();
    let mut text_b = wanted.text_b.map(|_| Vec::new());
    let mut label: Option<LabelValues> = None;
    for batch in batches {
        text_a.extend(strings(column(batch, wanted.text_a)?.as_ref()).expect("checked to be text"));
        if let (Some(out), Some(name)) = (&mut text_b, wanted.text_b) {
            out.extend(strings(column(batch, name)?.as_ref()).expect("checked to be text"));
        }
        if let Some(name) = wanted.label {
            let values = label_values(column(batch, name)?.as_ref()).expect("checked to be a label type");
            match &mut label {
                None => label = Some(values),
                Some(l) => {
                    l.extend(values);
                }
            }
        }
    }
    let label_type = wanted.label.and_then(|l| schema.field_with_name(l).ok()).map(|f| f.data_type().clone());
    if wanted.label.is_some() && label.is_none() {
        // No record batches: an empty split, with the column's type family kept.
        label = Some(LabelValues::Strings(Vec::new()));
    }
    Ok(Columns {
        path: path.into(),
        text_a,
        text_b,
        label,
        text_columns: (wanted.text_a.to_string(), wanted.text_b.map(String::from)),
        label_column: wanted.label.unwrap_or_default().to_string(),
        label_type,
        class_names: None,
    })
}

/// The values of a text column (`None`: not a string type).
fn strings(array: &dyn Array) -> Option<Vec<Option<String>>> {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().map(owned).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().map(owned).collect(),
        DataType::Utf8View => array.as_string_view().iter().map(owned).collect(),
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let values = strings(dict.values().as_ref())?;
            if values.is_empty() {
                return Some(vec![None; array.len()]);
            }
            let keys = dict.normalized_keys();
            (0..array.len()).map(|i| if array.is_null(i) { None } else { values[keys[i]].clone() }).collect()
        }
        _ => return None,
    })
}

fn label_values(array: &dyn Array) -> Option<LabelValues> {
    macro_rules! prim {
        ($t:ty, $to:expr) => {
            array.as_primitive::<$t>().iter().map(|v| v.map($to)).collect()
        };
    }
    Some(match array.data_type() {
        DataType::Int8 => LabelValues::Ints(prim!(Int8Type, i64::from)),
        DataType::Int16 => LabelValues::Ints(prim!(Int16Type, i64::from)),
        DataType::Int32 => LabelValues::Ints(prim!(Int32Type, i64::from)),
        DataType::Int64 => LabelValues::Ints(prim!(Int64Type, |v| v)),
        DataType::UInt8 => LabelValues::Ints(prim!(UInt8Type, i64::from)),
        DataType::UInt16 => LabelValues::Ints(prim!(UInt16Type, i64::from)),
        DataType::UInt32 => LabelValues::Ints(prim!(UInt32Type, i64::from)),
        // Labels beyond i64 are not class ids; saturate so they are refused as out of range.
        DataType::UInt64 => LabelValues::Ints(prim!(UInt64Type, |v| i64::try_from(v).unwrap_or(i64::MAX))),
        DataType::Float16 => LabelValues::Floats(prim!(Float16Type, |v| f64::from(v.to_f32()))),
        DataType::Float32 => LabelValues::Floats(prim!(Float32Type, f64::from)),
        DataType::Float64 => LabelValues::Floats(prim!(Float64Type, |v| v)),
        _ => LabelValues::Strings(strings(array)?),
    })
}

/// Examples from the columns read. Integer labels become their `ClassLabel` name when the data has
/// names, else the number as text; `-1` under a `ClassLabel` is `datasets`' "no label" (GLUE's test
/// splits): `None` when `unlabelled_ok`, else an error. Float labels are refused unless `regression`.
pub fn to_examples(cols: &Columns, regression: bool, unlabelled_ok: bool) -> Result<Vec<super::Example>> {
    let err = |message: String| DataError::File { path: cols.path.clone(), message };
    let column = &cols.label_column;
    if let (Some(LabelValues::Floats(_)), false) = (&cols.label, regression) {
        let ty = cols.label_type.as_ref().map_or("float".into(), |t| t.to_string());
        return Err(err(format!(
            "column {column:?} is {ty}: a classification task needs integer or string labels \
             (for a regression task give --metric pearson)"
        )));
    }
    let mut out = Vec::with_capacity(cols.len());
    for i in 0..cols.len() {
        let row = i + 1;
        let text = |values: &[Option<String>], name: &str| {
            values[i].clone().ok_or_else(|| err(format!("row {row}: column {name:?} is null")))
        };
        let text_a = text(&cols.text_a, &cols.text_columns.0)?;
        let text_b = cols
            .text_b
            .as_ref()
            .map(|b| text(b, cols.text_columns.1.as_deref().unwrap_or_default()))
            .transpose()?;
        let unlabelled = |what: &str| {
            if unlabelled_ok {
                Ok(None)
            } else {
                Err(err(format!(
                    "row {row}: {what} in column {column:?}: the split has no labels (a test split? \
                     GLUE's test labels are hidden): train and evaluate on labelled splits"
                )))
            }
        };
        let label =
            match &cols.label {
                None => None,
                Some(LabelValues::Ints(v)) => match (v[i], &cols.class_names) {
                    (None, _) => unlabelled("null")?,
                    (Some(-1), Some(_)) => unlabelled("label -1")?,
                    (Some(id), Some(names)) => {
                        Some(usize::try_from(id).ok().and_then(|id| names.get(id)).cloned().ok_or_else(
                            || err(format!("row {row}: label {id} is not a class of {names:?}")),
                        )?)
                    }
                    (Some(id), None) => Some(id.to_string()),
                },
                Some(LabelValues::Floats(v)) => match v[i] {
                    None => unlabelled("null")?,
                    Some(x) => Some(x.to_string()),
                },
                Some(LabelValues::Strings(v)) => match &v[i] {
                    None => unlabelled("null")?,
                    Some(s) => Some(s.trim().to_string()),
                },
            };
        out.push(super::Example { text_a, text_b, label });
    }
    Ok(out)
}
