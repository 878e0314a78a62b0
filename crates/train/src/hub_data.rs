//! Datasets from the Hugging Face Hub, found as `datasets` finds them, through the same cache and client
//! as models (`stabletune_model::hub`: `HF_HUB_CACHE`/`HF_HOME`, `HF_HUB_OFFLINE`, the token).
//!
//! A dataset repository `org/name` lives in the cache as `datasets--org--name/` with `refs/<revision>`
//! (the commit), `snapshots/<commit>/<path>` and `blobs/`. Which files make which split of a config
//! comes from the dataset card's YAML `configs:` (`data_files` per split, with globs); without
//! `configs:`, from the Hub's generated `refs/convert/parquet` branch (`<config>/<split>/NNNN.parquet`).

use crate::data::{DataError, Result};
use stabletune_model::hub;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// The Hub's generated Parquet branch, and where huggingface_hub keeps its ref in the cache.
const CONVERTED: &str = "refs/convert/parquet";

/// A dataset config resolved to local files.
#[derive(Clone, Debug, PartialEq)]
pub struct HubData {
    pub repo: String,
    pub config: String,
    /// The revision asked for (a branch, tag or commit).
    pub revision: String,
    /// The commit the files come from (of `refs/convert/parquet` when the card has no `configs:`).
    pub commit: String,
    /// Splits in the card's order: name, then (path in the repository, local file) in glob order.
    pub splits: Vec<(String, Vec<(String, PathBuf)>)>,
    /// Splits the card declares whose files are not in the cache.
    pub missing: Vec<String>,
    /// `ClassLabel` names per column from the card's `dataset_info` (a fallback for files without
    /// `huggingface` metadata).
    pub card_class_names: BTreeMap<String, Vec<String>>,
}

impl HubData {
    pub fn split(&self, name: &str) -> Option<&[(String, PathBuf)]> {
        self.splits.iter().find(|(n, _)| n == name).map(|(_, f)| f.as_slice())
    }

    /// Names the dataset for messages: `nyu-mll/glue (config rte, revision main = 1a2b3c4)`.
    pub fn describe(&self) -> String {
        let short = &self.commit[..self.commit.len().min(12)];
        format!("{} (config {}, revision {} = {short})", self.repo, self.config, self.revision)
    }
}

/// Resolves `repo`'s `config` at `revision` in the Hub cache, downloading what is missing unless
/// `HF_HUB_OFFLINE` is set.
pub fn resolve(repo: &str, config: Option<&str>, revision: Option<&str>) -> Result<HubData> {
    resolve_in(repo, config, revision.unwrap_or("main"), &hub::cache_dir(), !hub::offline())
}

/// As [`resolve`], with an explicit cache folder and download permission.
pub fn resolve_in(
    repo: &str,
    config: Option<&str>,
    revision: &str,
    cache: &Path,
    allow_download: bool,
) -> Result<HubData> {
    let valid = repo.split('/').count() <= 2
        && !repo.is_empty()
        && repo.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
        && repo.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if !valid {
        return Err(DataError::Other(format!("{repo:?} is not a Hub dataset id (org/name)")));
    }
    let folder = cache.join(format!("datasets--{}", repo.replace('/', "--")));
    let commit = cached_commit(&folder, revision);
    let snapshot = commit.as_ref().map(|c| folder.join("snapshots").join(c));
    let from_cache =
        plan(repo, config, revision, commit.as_deref().unwrap_or(""), snapshot.as_deref(), || {
            let converted = cached_commit(&folder, CONVERTED)?;
            Some((converted.clone(), folder.join("snapshots").join(converted)))
        })?;
    match from_cache {
        Some(data) if data.missing.is_empty() || !allow_download => Ok(data),
        _ if allow_download => download(repo, config, revision, cache),
        _ => Err(not_cached(repo, config, revision, cache)),
    }
}

/// The command that fetches what a run needs, for the offline error.
pub fn fetch_command(repo: &str, config: Option<&str>, revision: &str) -> String {
    // Without a config, the whole repository; with one, its folder and the card.
    let include = config.map(|c| format!(" --include README.md '{c}/*'")).unwrap_or_default();
    let rev = if revision == "main" { String::new() } else { format!(" --revision {revision}") };
    format!("hf download {repo} --repo-type dataset{rev}{include}")
}

fn not_cached(repo: &str, config: Option<&str>, revision: &str, cache: &Path) -> DataError {
    DataError::Other(format!(
        "dataset {repo} (revision {revision}{}) is not in the Hugging Face cache at {} and downloads are off \
         (HF_HUB_OFFLINE); fetch it on a machine with network into the same cache (HF_HUB_CACHE) with:\n  {}",
        config.map(|c| format!(", config {c}")).unwrap_or_default(),
        cache.display(),
        fetch_command(repo, config, revision),
    ))
}

/// The commit a revision resolves to in the cache: a full commit hash is its own, a branch or tag is
/// read from `refs/`.
fn cached_commit(folder: &Path, revision: &str) -> Option<String> {
    if revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()) {
        return folder.join("snapshots").join(revision).is_dir().then(|| revision.to_string());
    }
    let commit = std::fs::read_to_string(folder.join("refs").join(revision)).ok()?;
    let commit = commit.trim().to_string();
    folder.join("snapshots").join(&commit).is_dir().then_some(commit)
}

/// Files under `dir`, as repository paths with `/`, sorted.
fn list_files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            let path = e.path();
            if path.is_dir() {
                walk(&path, &rel, out);
            } else if path.is_file() {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

/// Which files make each split, from the card at `snapshot` and the files available (`None`: neither
/// the card's `configs:` nor the converted branch is there).
fn plan(
    repo: &str,
    config: Option<&str>,
    revision: &str,
    commit: &str,
    snapshot: Option<&Path>,
    converted: impl FnOnce() -> Option<(String, PathBuf)>,
) -> Result<Option<HubData>> {
    let card = snapshot.map_or(Ok(Card::default()), |s| Card::read(&s.join("README.md")))?;
    if let (false, Some(snapshot)) = (card.configs.is_empty(), snapshot) {
        let files = list_files(snapshot);
        let (name, splits) = card.config(repo, config)?;
        let mut data = HubData {
            repo: repo.into(),
            config: name.clone(),
            revision: revision.into(),
            commit: commit.into(),
            splits: Vec::new(),
            missing: Vec::new(),
            card_class_names: card.class_names.get(&name).cloned().unwrap_or_default(),
        };
        for (split, patterns) in splits {
            let matched = match_patterns(&patterns, &files);
            if matched.is_empty() {
                data.missing.push(split);
            } else {
                data.splits
                    .push((split, matched.into_iter().map(|f| (f.clone(), snapshot.join(&f))).collect()));
            }
        }
        return Ok(Some(data));
    }
    let Some((commit, snapshot)) = converted() else { return Ok(None) };
    // The converted branch: `<config>/<split>/NNNN.parquet` (`partial-<split>` for large datasets).
    let configs: Vec<String> =
        list_files(&snapshot).iter().filter_map(|f| f.split('/').next().map(String::from)).collect();
    let mut configs = configs;
    configs.dedup();
    let name = match config {
        Some(c) if configs.iter().any(|x| x == c) => c.to_string(),
        None if configs.len() == 1 => configs[0].clone(),
        _ => return Err(unknown_config(repo, config, &configs)),
    };
    let mut splits: BTreeMap<String, Vec<(String, PathBuf)>> = BTreeMap::new();
    for f in list_files(&snapshot.join(&name)) {
        let mut parts = f.split('/');
        let (Some(split), Some(file)) = (parts.next(), parts.next()) else { continue };
        if file.ends_with(".parquet") {
            let split = split.strip_prefix("partial-").unwrap_or(split).to_string();
            splits.entry(split).or_default().push((format!("{name}/{f}"), snapshot.join(&name).join(&f)));
        }
    }
    Ok(Some(HubData {
        repo: repo.into(),
        config: name,
        revision: CONVERTED.into(),
        commit,
        splits: splits.into_iter().collect(),
        missing: Vec::new(),
        card_class_names: BTreeMap::new(),
    }))
}

fn unknown_config(repo: &str, config: Option<&str>, have: &[String]) -> DataError {
    DataError::Other(match config {
        Some(c) => format!("dataset {repo} has no config {c:?} (configs: {})", have.join(", ")),
        None => format!(
            "dataset {repo} has several configs: give one with --dataset-config ({})",
            have.join(", ")
        ),
    })
}

/// Files matching any of `patterns` (as `datasets` resolves `data_files`: relative to the repository
/// root, `*` within a path segment, `**` across segments), in sorted order.
fn match_patterns(patterns: &[String], files: &[String]) -> Vec<String> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let compiled: Vec<glob::Pattern> =
        patterns.iter().filter_map(|p| glob::Pattern::new(p.trim_start_matches("./")).ok()).collect();
    files.iter().filter(|f| compiled.iter().any(|p| p.matches_with(f, options))).cloned().collect()
}

/// A config's splits: (split, data_files patterns).
type SplitPatterns = Vec<(String, Vec<String>)>;

/// What stabletune reads of a dataset card's YAML front matter.
#[derive(Default)]
struct Card {
    /// `configs:` in order: name, default flag, (split, patterns).
    configs: Vec<(String, bool, SplitPatterns)>,
    /// `dataset_info:` ClassLabel names per config and column.
    class_names: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Card {
    fn read(path: &Path) -> Result<Card> {
        let Ok(text) = std::fs::read_to_string(path) else { return Ok(Card::default()) };
        let err = |message: String| DataError::File { path: path.into(), message };
        let text = text.trim_start_matches('\u{feff}');
        let Some(rest) = text.strip_prefix("---") else { return Ok(Card::default()) };
        let end = rest.find("\n---").ok_or_else(|| err("the YAML front matter has no closing ---".into()))?;
        let docs =
            YamlLoader::load_from_str(&rest[..end]).map_err(|e| err(format!("YAML front matter: {e}")))?;
        let Some(doc) = docs.first() else { return Ok(Card::default()) };
        let mut card = Card::default();
        for c in doc["configs"].as_vec().map(Vec::as_slice).unwrap_or_default() {
            let name = c["config_name"].as_str().unwrap_or("default").to_string();
            let prefix =
                c["data_dir"].as_str().map(|d| format!("{}/", d.trim_end_matches('/'))).unwrap_or_default();
            let mut splits = data_files(&c["data_files"]).ok_or_else(|| {
                err(format!("config {name:?}: data_files is not a pattern, a list or a split map"))
            })?;
            for (_, patterns) in &mut splits {
                patterns.iter_mut().for_each(|p| *p = format!("{prefix}{p}"));
            }
            card.configs.push((name, c["default"].as_bool().unwrap_or(false), splits));
        }
        let infos = match &doc["dataset_info"] {
            Yaml::Array(a) => a.clone(),
            Yaml::Hash(_) => vec![doc["dataset_info"].clone()],
            _ => Vec::new(),
        };
        for info in infos {
            let name = info["config_name"].as_str().unwrap_or("default").to_string();
            for f in info["features"].as_vec().map(Vec::as_slice).unwrap_or_default() {
                let names = &f["dtype"]["class_label"]["names"];
                let (Some(column), Some(map)) = (f["name"].as_str(), names.as_hash()) else { continue };
                // `names` maps ids ('0', '1', ...) to class names.
                let mut pairs: Vec<(i64, String)> = map
                    .iter()
                    .filter_map(|(k, v)| {
                        let id = k.as_i64().or_else(|| k.as_str().and_then(|s| s.parse().ok()))?;
                        Some((id, v.as_str()?.to_string()))
                    })
                    .collect();
                pairs.sort();
                card.class_names
                    .entry(name.clone())
                    .or_default()
                    .insert(column.into(), pairs.into_iter().map(|p| p.1).collect());
            }
        }
        Ok(card)
    }

    /// The config named, else the one marked `default`, else the only one.
    fn config(&self, repo: &str, name: Option<&str>) -> Result<(String, SplitPatterns)> {
        let found = match name {
            Some(n) => self.configs.iter().find(|c| c.0 == n),
            None => self.configs.iter().find(|c| c.1).or(if self.configs.len() == 1 {
                self.configs.first()
            } else {
                None
            }),
        };
        found.map(|c| (c.0.clone(), c.2.clone())).ok_or_else(|| {
            unknown_config(repo, name, &self.configs.iter().map(|c| c.0.clone()).collect::<Vec<_>>())
        })
    }
}

/// `data_files` in each form `datasets` accepts: a pattern or list of patterns (the train split), a
/// list of `{split, path}`, or a map from split to pattern(s).
fn data_files(y: &Yaml) -> Option<SplitPatterns> {
    let patterns = |y: &Yaml| -> Option<Vec<String>> {
        match y {
            Yaml::String(s) => Some(vec![s.clone()]),
            Yaml::Array(a) => a.iter().map(|p| p.as_str().map(String::from)).collect(),
            _ => None,
        }
    };
    match y {
        Yaml::String(_) => Some(vec![("train".into(), patterns(y)?)]),
        Yaml::Array(a) if a.iter().all(|x| x.as_str().is_some()) => {
            Some(vec![("train".into(), patterns(y)?)])
        }
        Yaml::Array(a) => a
            .iter()
            .map(|e| Some((e["split"].as_str().unwrap_or("train").to_string(), patterns(&e["path"])?)))
            .collect(),
        Yaml::Hash(h) => h.iter().map(|(k, v)| Some((k.as_str()?.to_string(), patterns(v)?))).collect(),
        _ => None,
    }
}

/// Downloads the card and the config's files into the cache (online only), then plans from the cache.
fn download(repo: &str, config: Option<&str>, revision: &str, cache: &Path) -> Result<HubData> {
    use hf_hub::{Repo, RepoType};
    let hub_err =
        |e: &dyn std::fmt::Display| DataError::Other(format!("dataset {repo} (revision {revision}): {e}"));
    let api = hub::api(cache).map_err(|e| hub_err(&e))?;
    let remote = api.repo(Repo::with_revision(repo.into(), RepoType::Dataset, revision.into()));
    let info = remote.info().map_err(|e| hub_err(&e))?;
    let files: Vec<String> = info.siblings.iter().map(|s| s.rfilename.clone()).collect();
    let snapshot =
        cache.join(format!("datasets--{}", repo.replace('/', "--"))).join("snapshots").join(&info.sha);
    if files.iter().any(|f| f == "README.md") {
        remote.get("README.md").map_err(|e| hub_err(&e))?;
    }
    let card = Card::read(&snapshot.join("README.md"))?;
    if !card.configs.is_empty() {
        let (_, splits) = card.config(repo, config)?;
        for (_, patterns) in splits {
            for f in match_patterns(&patterns, &files) {
                remote.get(&f).map_err(|e| hub_err(&format!("downloading {f}: {e}")))?;
            }
        }
    } else {
        let converted = api.repo(Repo::with_revision(repo.into(), RepoType::Dataset, CONVERTED.into()));
        let info = converted.info().map_err(|e| hub_err(&e))?;
        let prefix = config.map(|c| format!("{c}/")).unwrap_or_default();
        for f in info
            .siblings
            .iter()
            .map(|s| &s.rfilename)
            .filter(|f| f.starts_with(&prefix) && f.ends_with(".parquet"))
        {
            converted.get(f).map_err(|e| hub_err(&format!("downloading {f}: {e}")))?;
        }
    }
    // The cache now holds the ref and snapshot: resolve from it, as offline.
    resolve_in(repo, config, &info.sha, cache, false).map(|mut d| {
        if d.revision == info.sha {
            d.revision = revision.into();
        }
        d
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_in_every_form_datasets_accepts() {
        let yaml = |s: &str| YamlLoader::load_from_str(s).unwrap().remove(0);
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(data_files(&yaml("data.csv")), Some(vec![("train".into(), p(&["data.csv"]))]));
        assert_eq!(data_files(&yaml("[a.csv, b.csv]")), Some(vec![("train".into(), p(&["a.csv", "b.csv"]))]));
        assert_eq!(
            data_files(&yaml("- split: train\n  path: [x/*.parquet]\n- split: test\n  path: y/*")),
            Some(vec![("train".into(), p(&["x/*.parquet"])), ("test".into(), p(&["y/*"]))])
        );
        assert_eq!(
            data_files(&yaml("train: t/**/*.parquet\nvalidation: [v.parquet]")),
            Some(vec![("train".into(), p(&["t/**/*.parquet"])), ("validation".into(), p(&["v.parquet"]))])
        );
        assert_eq!(data_files(&yaml("3")), None);
    }

    #[test]
    fn globs_stay_within_a_segment_unless_double_starred() {
        let files: Vec<String> =
            ["rte/train-0.parquet", "rte/train/x.parquet", "data/a/b/train.parquet", "README.md"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(match_patterns(&["rte/train-*".into()], &files), ["rte/train-0.parquet"]);
        assert_eq!(match_patterns(&["data/**/train.parquet".into()], &files), ["data/a/b/train.parquet"]);
        assert!(match_patterns(&["rte/*".into()], &files).iter().all(|f| f.matches('/').count() == 1));
    }
}
