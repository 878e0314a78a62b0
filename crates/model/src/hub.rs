//! Finding a model folder: a local path, a Hub id already in the Hugging Face cache, or (when online) a
//! download into that cache.
//!
//! The cache is the standard one (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`),
//! laid out as `models--{org}--{name}/snapshots/{revision}/...`, so models fetched by transformers are
//! found without downloading again. `HF_HUB_OFFLINE=1` forbids downloads. The cache, offline and token
//! helpers serve Hub datasets too (`stabletune_train::hub_data`).

use crate::error::{ModelError, Result};
use hf_hub::Cache;
use std::path::{Path, PathBuf};

/// Files a model folder needs (the tokenizer needs one of `tokenizer.json` and `vocab.txt`).
const REQUIRED: [&str; 2] = ["config.json", "model.safetensors"];
const OPTIONAL: [&str; 4] =
    ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"];

/// Resolves `spec` to a folder holding `config.json` and `model.safetensors`: an existing directory is
/// used as is; anything else is taken for a Hub id, looked up in the cache, and downloaded if missing
/// and downloads are allowed.
pub fn resolve_model(spec: &str) -> Result<PathBuf> {
    resolve_model_in(spec, &Cache::new(cache_dir()), !offline())
}

/// The Hub cache folder as huggingface_hub finds it: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (hf-hub's own `Cache::from_env` skips `HF_HUB_CACHE`).
pub fn cache_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("HF_HUB_CACHE") {
        return dir;
    }
    let home = var("HF_HOME")
        .unwrap_or_else(|| var("HOME").unwrap_or_else(|| PathBuf::from("/")).join(".cache/huggingface"));
    home.join("hub")
}

/// `HF_HUB_OFFLINE=1` (or `true`): nothing is downloaded, the cache alone answers.
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The Hub token from the usual places: `$HF_TOKEN`, else the file `$HF_TOKEN_PATH`, else
/// `$HF_HOME/token` (`~/.cache/huggingface/token`), as `hf auth login` writes it.
pub fn token() -> Option<String> {
    let nonempty = |s: String| Some(s.trim().to_string()).filter(|t| !t.is_empty());
    if let Some(t) = std::env::var("HF_TOKEN").ok().and_then(nonempty) {
        return Some(t);
    }
    let path = std::env::var_os("HF_TOKEN_PATH").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HF_HOME").map(PathBuf::from);
        home.unwrap_or_else(|| {
            std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".cache/huggingface")
        })
        .join("token")
    });
    std::fs::read_to_string(path).ok().and_then(nonempty)
}

/// A Hub client writing into `cache` (the endpoint from `$HF_ENDPOINT`, the token from [`token`]).
pub fn api(cache: &Path) -> std::result::Result<hf_hub::api::sync::Api, String> {
    hf_hub::api::sync::ApiBuilder::from_env()
        .with_cache_dir(cache.to_path_buf())
        .with_token(token())
        .build()
        .map_err(|e| e.to_string())
}

/// As [`resolve_model`], with an explicit cache and download permission.
pub fn resolve_model_in(spec: &str, cache: &Cache, allow_download: bool) -> Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if path.exists() {
        return Err(ModelError::Input(format!("{spec}: expected a model folder, found a file")));
    }
    if !looks_like_hub_id(spec) {
        return Err(ModelError::Input(format!("{spec}: no such model folder")));
    }
    if let Some(dir) = cached_snapshot(spec, cache) {
        return Ok(dir);
    }
    if !allow_download {
        return Err(ModelError::Hub {
            id: spec.into(),
            message: format!(
                "not a local folder and not in the Hugging Face cache at {} (downloads are off: HF_HUB_OFFLINE)",
                cache.path().display()
            ),
        });
    }
    download(spec, cache)
}

/// `org/name` or `name`: letters, digits, `-`, `_`, `.`, at most one `/`.
fn looks_like_hub_id(spec: &str) -> bool {
    let ok_chars = spec.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    ok_chars && spec.matches('/').count() <= 1 && !spec.starts_with(['.', '/']) && !spec.contains("..")
}

/// The snapshot folder of a cached model, if every required file is there.
fn cached_snapshot(id: &str, cache: &Cache) -> Option<PathBuf> {
    let repo = cache.model(id.to_string());
    let config = repo.get("config.json")?;
    let dir = config.parent()?.to_path_buf();
    REQUIRED.iter().all(|f| dir.join(f).exists()).then_some(dir)
}

fn download(id: &str, cache: &Cache) -> Result<PathBuf> {
    let hub = |message: String| ModelError::Hub { id: id.into(), message };
    let api = api(cache.path()).map_err(hub)?;
    let repo = api.model(id.to_string());
    let mut dir = None;
    for file in REQUIRED {
        let path = repo.get(file).map_err(|e| hub(format!("downloading {file}: {e}")))?;
        dir = path.parent().map(Path::to_path_buf);
    }
    for file in OPTIONAL {
        // Not every model has every tokenizer file; the tokenizer reports what it lacks.
        let _ = repo.get(file);
    }
    dir.ok_or_else(|| hub("download gave no folder".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids() {
        assert!(looks_like_hub_id("sentence-transformers/all-MiniLM-L6-v2"));
        assert!(looks_like_hub_id("bert-base-uncased"));
        assert!(!looks_like_hub_id("../models/x"));
        assert!(!looks_like_hub_id("a/b/c"));
    }
}
