//! Reading and writing weights in Hugging Face's `model.safetensors` layout.
//!
//! Reading accepts the names of the base models (`embeddings.word_embeddings.weight`) and of the
//! `...ForSequenceClassification` / `...ForMaskedLM` classes (`bert.embeddings...`), old LayerNorm names
//! (`gamma`/`beta`), and the tied decoder's bias stored as `...decoder.bias`. Writing uses the prefixed
//! names of the task classes, so a model fine-tuned here loads with `from_pretrained` in transformers.

use crate::config::Architecture;
use crate::error::{io_err, write_err, ModelError, Result};
use crate::params::ParamSet;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A parsed checkpoint file (the whole file is read into memory).
pub struct Checkpoint {
    pub path: PathBuf,
    bytes: Vec<u8>,
}

/// What loading did besides copying tensors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Tensors the checkpoint lacked that were freshly initialised (new heads).
    pub initialised: Vec<String>,
    /// Tensors in the checkpoint that the model does not use.
    pub unused: Vec<String>,
}

impl Checkpoint {
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let ck = Checkpoint { path: path.into(), bytes };
        ck.parse()?;
        Ok(ck)
    }

    fn parse(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.bytes)
            .map_err(|e| ModelError::Safetensors { path: self.path.clone(), message: e.to_string() })
    }

    pub fn names(&self) -> Vec<String> {
        self.parse().map(|st| st.names().into_iter().map(String::from).collect()).unwrap_or_default()
    }

    /// Whether the checkpoint holds `name` under any of its accepted spellings.
    pub fn has(&self, name: &str, arch: Architecture) -> bool {
        let names: HashSet<String> = self.names().into_iter().collect();
        candidates(name, arch).iter().any(|c| names.contains(c))
    }

    /// Copies every tensor of `params` from the checkpoint. A tensor the checkpoint lacks is initialised
    /// (N(0, 0.02) from `seed`) when `may_initialise(name)` allows it, and is an error otherwise.
    pub fn load_into(
        &self,
        params: &mut ParamSet,
        arch: Architecture,
        may_initialise: impl Fn(&str) -> bool,
        seed: u64,
    ) -> Result<LoadReport> {
        let st = self.parse()?;
        let available: HashSet<&str> = st.names().into_iter().collect();
        let mut used = HashSet::new();
        let mut report = LoadReport::default();
        for index in 0..params.infos.len() {
            let info = params.infos[index].clone();
            let tried = candidates(&info.name, arch);
            let Some(found) = tried.iter().find(|c| available.contains(c.as_str())) else {
                if may_initialise(&info.name) {
                    params.init_tensor(index, seed, 0.02);
                    report.initialised.push(info.name.clone());
                    continue;
                }
                return Err(ModelError::MissingTensor {
                    path: self.path.clone(),
                    name: info.name,
                    tried: tried.join(", "),
                });
            };
            used.insert(found.clone());
            let view = st
                .tensor(found)
                .map_err(|e| ModelError::Safetensors { path: self.path.clone(), message: e.to_string() })?;
            if view.shape() != info.shape.as_slice() {
                return Err(ModelError::ShapeMismatch {
                    path: self.path.clone(),
                    name: found.clone(),
                    expected: info.shape.clone(),
                    found: view.shape().to_vec(),
                });
            }
            let out = &mut params.values[info.range()];
            decode_into(&view, out).map_err(|dtype| ModelError::UnsupportedDtype {
                path: self.path.clone(),
                name: found.clone(),
                dtype,
            })?;
            if let Some(i) = out.iter().position(|v| !v.is_finite()) {
                return Err(ModelError::NonFinite { path: self.path.clone(), name: found.clone(), index: i });
            }
        }
        report.unused = available.iter().filter(|n| !used.contains(**n)).map(|n| n.to_string()).collect();
        report.unused.sort();
        Ok(report)
    }
}

/// The spellings under which a tensor may be stored.
fn candidates(name: &str, arch: Architecture) -> Vec<String> {
    let mut out = vec![name.to_string()];
    let prefix = format!("{}.", arch.prefix());
    if let Some(rest) = name.strip_prefix(&prefix) {
        out.push(rest.to_string());
    }
    for n in out.clone() {
        if n.contains("LayerNorm") {
            if let Some(stem) = n.strip_suffix(".weight") {
                out.push(format!("{stem}.gamma"));
            } else if let Some(stem) = n.strip_suffix(".bias") {
                out.push(format!("{stem}.beta"));
            }
        }
    }
    for head in ["cls.predictions", "lm_head", "predictions"] {
        if name == format!("{head}.bias") {
            out.push(format!("{head}.decoder.bias"));
        }
    }
    out
}

/// Decodes little-endian F32, F16 or BF16 data into `out`; on another dtype returns its name.
fn decode_into(view: &TensorView<'_>, out: &mut [f32]) -> std::result::Result<(), String> {
    let data = view.data();
    match view.dtype() {
        Dtype::F32 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(4)) {
                *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        Dtype::BF16 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(2)) {
                *o = f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16);
            }
        }
        Dtype::F16 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(2)) {
                *o = f16_to_f32(u16::from_le_bytes([c[0], c[1]]));
            }
        }
        other => return Err(format!("{other:?}")),
    }
    Ok(())
}

/// IEEE half to single precision, including subnormals, infinities and NaN.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: value = f · 2^-24.
            let v = f as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Writes every tensor of `params` as F32 to `path` (through a temporary file and a rename, so a killed
/// process never leaves a half-written checkpoint).
pub fn save(params: &ParamSet, path: &Path) -> Result<()> {
    let tensors = params.infos.iter().map(|i| (i.name.clone(), i.shape.clone(), &params.values[i.range()]));
    save_tensors(tensors, path)
}

/// Little-endian bytes of `values`: the memory itself on little-endian machines (no copy).
fn le_bytes(values: &[f32]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        // SAFETY: any f32 bit pattern is four valid bytes; u8 has no alignment requirement; the slice
        // covers exactly the memory of `values`, borrowed for the same lifetime.
        std::borrow::Cow::Borrowed(unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
        })
    } else {
        std::borrow::Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
}

/// Saves named f32 tensors as safetensors, streamed from memory to a temporary file (no copy of the
/// data), flushed to disk and renamed into place (see [`write_atomic`]).
pub fn save_tensors<'a>(
    tensors: impl Iterator<Item = (String, Vec<usize>, &'a [f32])>,
    path: &Path,
) -> Result<()> {
    let bytes: Vec<(String, Vec<usize>, std::borrow::Cow<'a, [u8]>)> =
        tensors.map(|(name, shape, values)| (name, shape, le_bytes(values))).collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, d)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), d).expect("consistent tensor")))
        .collect();
    let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let tmp = temporary_beside(path);
    let written = safetensors::serialize_to_file(views, Some(metadata), &tmp)
        .map_err(|e| match e {
            safetensors::SafeTensorError::IoError(io) => write_err(&tmp)(io),
            e => ModelError::Safetensors { path: path.into(), message: e.to_string() },
        })
        .and_then(|()| std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(write_err(&tmp)))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(write_err(path)));
    if written.is_err() {
        // A full disk leaves a partial temporary file: remove it.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    sync_parent(path)
}

/// A temporary name beside `path` that no other writer uses: this process and this call, so that threads
/// of one process (a study's workers) and processes on other machines sharing the folder never write to
/// each other's temporary file.
pub fn temporary_beside(path: &Path) -> PathBuf {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{call}.{nanos}.tmp", std::process::id()))
}

/// Writes `data` to a temporary file beside `path` ([`temporary_beside`]), flushes it to disk, renames it
/// over `path` and flushes the directory: a killed process leaves either the old file or the new one,
/// never half of one, and a node that loses power keeps what was renamed.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = temporary_beside(path);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        // A full disk leaves a partial temporary file: remove it, so a failed write takes no space.
        let _ = std::fs::remove_file(&tmp);
        return Err(write_err(&tmp)(e));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_err(path)(e));
    }
    sync_parent(path)
}

/// Flushes the directory entry of `path` (its parent folder) to disk, so a rename survives a power loss.
pub fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir(parent)
}

/// Flushes a directory's entries to disk (a no-op where directories cannot be opened, as on Windows).
pub fn sync_dir(dir: &Path) -> Result<()> {
    match std::fs::File::open(dir) {
        Ok(d) => d.sync_all().map_err(io_err(dir)),
        Err(_) if cfg!(windows) => Ok(()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decodes() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    }

    #[test]
    fn spellings() {
        let c = candidates("bert.embeddings.LayerNorm.weight", Architecture::Bert);
        assert!(c.contains(&"embeddings.LayerNorm.weight".to_string()));
        assert!(c.contains(&"embeddings.LayerNorm.gamma".to_string()));
        let c = candidates("cls.predictions.bias", Architecture::Bert);
        assert!(c.contains(&"cls.predictions.decoder.bias".to_string()));
    }
}
