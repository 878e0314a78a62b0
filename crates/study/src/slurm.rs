//! `stabletune study slurm`: an sbatch job-array script whose tasks each run one shard of the study.
//!
//! The tasks read the study from its folder's `study.toml` (the snapshot `study slurm` writes), never
//! from the user's file, so editing that file while tasks wait changes nothing mid-study. Each task's
//! shard is its `SLURM_ARRAY_TASK_ID` out of the array size the script was written for, passed as
//! `--shard`, so any subset of the array (`sbatch --array=3,7 job.sbatch`) can be resubmitted and each
//! task still runs its own shard. Claims keep the shards' workers apart, a task requeued or restarted
//! resumes its runs from their checkpoints, and shards are a starting split: a task that finishes its
//! own runs helps with the others'.

use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    pub array_size: usize,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub cpus_per_task: usize,
    pub mem: Option<String>,
}

/// The script. `binary`, `study` (the snapshot in the study folder), `out` and `workdir` are written as
/// given: pass absolute paths, since the job runs wherever Slurm starts it.
pub fn script(
    name: &str,
    opts: &SlurmOptions,
    binary: &Path,
    study: &str,
    out: &Path,
    workdir: &Path,
) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name=stabletune-{name}\n");
    s += &format!("#SBATCH --array=0-{}\n", opts.array_size.max(1) - 1);
    s += &format!("#SBATCH --cpus-per-task={}\n", opts.cpus_per_task.max(1));
    if let Some(p) = &opts.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let Some(t) = &opts.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    if let Some(m) = &opts.mem {
        s += &format!("#SBATCH --mem={m}\n");
    }
    s += &format!("#SBATCH --output={}/slurm/%A_%a.out\n", out.display());
    // SIGTERM two minutes before the time limit: the runs checkpoint and stop, and a resubmission (or
    // `--requeue`) resumes them.
    s += "#SBATCH --signal=B:TERM@120\n";
    s += "set -euo pipefail\n";
    s += &format!("cd {}\n", quote(&workdir.display().to_string()));
    s += &format!(
        "# One worker per array task, with every CPU Slurm gave it; the shard is the task's id out of the {} \
         tasks this\n# script was written for, so a resubmitted subset (sbatch --array=3,7) runs the same shards.\n",
        opts.array_size.max(1)
    );
    s += &format!(
        "exec {} study run {} --out {} --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\" --workers 1 --threads-per-worker \"${{SLURM_CPUS_PER_TASK:-{}}}\"\n",
        quote(&binary.display().to_string()),
        quote(study),
        quote(&out.display().to_string()),
        opts.array_size.max(1),
        opts.cpus_per_task.max(1)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_an_array_of_shards() {
        let opts = SlurmOptions {
            array_size: 3,
            partition: Some("gpu".into()),
            time: Some("2:00:00".into()),
            cpus_per_task: 4,
            mem: None,
        };
        let s = script(
            "rte",
            &opts,
            Path::new("/opt/st"),
            "/scratch/rte/study.toml",
            Path::new("/scratch/rte"),
            Path::new("/home/me"),
        );
        for line in [
            "#SBATCH --array=0-2",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=2:00:00",
        ] {
            assert!(s.contains(line), "{line} missing:\n{s}");
        }
        assert!(!s.contains("--mem"));
        assert!(
            s.contains("exec '/opt/st' study run '/scratch/rte/study.toml' --out '/scratch/rte' --shard \"${SLURM_ARRAY_TASK_ID}/3\" --workers 1"),
            "{s}"
        );
    }
}
