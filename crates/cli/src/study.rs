//! `stabletune study run|status|slurm|show`: a stability study as one command, on a laptop or a cluster.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use stabletune_study::runner::{run_workers, Event, RunnerOptions, Shard};
use stabletune_study::slurm::SlurmOptions;
use stabletune_study::{presets, restarts, results, status, PlannedRun, Study};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Subcommand)]
pub enum StudyCommand {
    /// Run every unfinished run of a study (a study.toml file, or a preset: demo, table1, ...).
    Run(RunArgs),
    /// Done, running, pending and failed runs of a study folder, and the time left.
    Status {
        /// The study's folder (holding study.toml).
        dir: PathBuf,
    },
    /// Write (and with --submit, submit) a Slurm job-array script whose tasks run the study's shards.
    Slurm(SlurmArgs),
    /// Print a preset's study file (a starting point for your own), or list the presets.
    Show {
        /// demo, table1, fig3-downsampling, fig9-ablation or dodge-grid.
        name: Option<String>,
    },
    /// Why runs failed: per task and configuration, the failed and the successful run of lowest seed, their
    /// layer-reset perplexities (Fig. 2) and loss surfaces (Fig. 7, 13), stored under DIR/analyses/.
    Analyze(crate::analyze::StudyAnalyzeArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// A study file, or a preset name.
    study: String,
    /// The study's folder (default studies/<name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only shard i of n (0-based, `i/n`); default: SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX/
    /// JOB_COMPLETIONS when set, else every run.
    #[arg(long)]
    shard: Option<String>,
    /// Worker processes' threads (overrides [execution] workers).
    #[arg(long)]
    workers: Option<usize>,
    /// Threads of each worker (overrides [execution] threads_per_worker).
    #[arg(long)]
    threads_per_worker: Option<usize>,
}

#[derive(Args)]
pub struct SlurmArgs {
    /// A study file, or a preset name.
    study: String,
    /// The study's folder (default studies/<name>); must be on a filesystem every node sees.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Array tasks (each runs one shard with one worker).
    #[arg(long)]
    array_size: usize,
    #[arg(long)]
    partition: Option<String>,
    /// Time limit of each array task (Slurm's format, e.g. 12:00:00).
    #[arg(long)]
    time: Option<String>,
    #[arg(long, default_value_t = 2)]
    cpus_per_task: usize,
    /// Memory of each array task (e.g. 16G).
    #[arg(long)]
    mem: Option<String>,
    /// Submit the script with sbatch.
    #[arg(long)]
    submit: bool,
}

pub fn run(command: StudyCommand) -> Result<ExitCode> {
    match command {
        StudyCommand::Run(args) => run_study(args),
        StudyCommand::Status { dir } => {
            let study = Study::open(&dir)?;
            let s = status::status(&study.store, &study.runs, study.spec.execution.stale_after_seconds);
            print!("{}", status::render(&s));
            let (rows, not_started) =
                results::table(&study.store, &study.runs).map_err(anyhow::Error::msg)?;
            print!("{}", results::render(&rows, not_started));
            Ok(ExitCode::SUCCESS)
        }
        StudyCommand::Slurm(args) => slurm(args),
        StudyCommand::Analyze(args) => crate::analyze::study(args).map(|()| ExitCode::SUCCESS),
        StudyCommand::Show { name } => {
            match name.as_deref().and_then(presets::preset) {
                Some(text) => print!("{text}"),
                None => {
                    if let Some(n) = name {
                        eprintln!("no preset {n:?}; the presets:");
                    }
                    for (n, what, _) in presets::PRESETS {
                        println!("{n:<18} {what}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The report of the study's runs (those of its current grid, not orphans, as read for the table) in
/// `DIR/report/`, once every run has ended; a report that cannot be made is said, and the study's own
/// result stands.
fn write_study_report(study: &Study, dir: &Path, runs: Vec<stabletune_report::RunData>) {
    if runs.len() < study.runs.len() || study.runs.iter().any(|r| study.store.finished(&r.id).is_none()) {
        return;
    }
    let out = dir.join("report");
    let made = stabletune_report::analyse(vec![dir.to_path_buf()], runs, None).and_then(|r| {
        stabletune_report::write_report(&r, &out, &stabletune_report::Format::ALL).map(|files| (r, files))
    });
    match made {
        Ok((r, files)) => crate::report::announce(&r, &files),
        Err(e) => eprintln!("report not written: {e}"),
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("{}: cannot make the path absolute", p.display()))
}

fn run_study(args: RunArgs) -> Result<ExitCode> {
    let spec = Study::spec_from_arg(&args.study)?;
    let dir = args.out.clone().unwrap_or_else(|| Study::default_dir(&spec));
    let mut study = Study::plan(spec, &dir)?;
    let shard = match &args.shard {
        Some(s) => Some(Shard::parse(s).map_err(anyhow::Error::msg)?),
        None => Shard::from_env(|k| std::env::var(k).ok()).map_err(anyhow::Error::msg)?,
    };
    if let Some(note) = study.prepare()? {
        eprintln!("{note}");
    }
    let orphans = study.orphans()?;
    if !orphans.is_empty() {
        eprintln!(
            "{} run folders no longer belong to the study (their settings changed); kept",
            orphans.len()
        );
    }
    // Reserve runs of `sentinel = "restart"` are not part of the study until a stopped run activates one.
    let mine: Vec<usize> = (0..study.runs.len())
        .filter(|&i| shard.is_none_or(|s| s.contains(i)))
        .filter(|&i| !restarts::dormant(&study.store, &study.runs[i]))
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut workers, mut threads) = study.spec.execution.layout(cores, mine.len());
    if let Some(w) = args.workers {
        workers = w.max(1);
        threads = args.threads_per_worker.unwrap_or((cores / workers).max(1));
    } else if let Some(t) = args.threads_per_worker {
        threads = t.max(1);
    }
    let to_do = mine.iter().filter(|&&i| study.store.finished(&study.runs[i].id).is_none()).count();
    let restart = study.spec.restart.is_some();
    let open = |run: &PlannedRun| restarts::is_open(&study.store, &study.runs, run, restart);
    let shard_text = shard.map_or(String::new(), |s| format!(", shard {}/{}", s.index, s.count));
    eprintln!(
        "study {} in {}: {} runs{shard_text}, {to_do} to do; {workers} worker(s) x {threads} thread(s)",
        study.spec.name,
        dir.display(),
        mine.len()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C/SIGTERM handler")?;
    let progress = Progress::new(workers, to_do as u64);
    let opts = RunnerOptions {
        workers,
        threads_per_worker: threads,
        shard,
        stale_after: study.spec.execution.stale_after_seconds,
        stop: stop.clone(),
        // Several beats within the stale limit, so a live holder never looks silent: every 10 s, or a quarter
        // of a short limit.
        heartbeat_every: Duration::from_secs_f64(
            (study.spec.execution.stale_after_seconds as f64 / 4.0).clamp(0.5, 10.0),
        ),
        early_stopping: study.spec.early_stopping.clone(),
        restart: study.spec.restart.is_some(),
        max_wait: Duration::from_secs(study.spec.execution.max_wait()),
    };
    let report = run_workers(&study.store, &study.runs, &opts, &|e| progress.event(e))?;
    progress.finish();
    // The table is read from the run folders; a folder it cannot read is said, and the runs stay.
    // Each run folder is read once, for the table and the report.
    match results::read_runs(&study.store, &study.runs)
        .and_then(|(read, not_started)| results::table_of(&read).map(|rows| (read, rows, not_started)))
    {
        Ok((read, rows, not_started)) => {
            let json = serde_json::json!({"caption": stabletune_report::table_caption(&rows), "table": rows});
            let text = serde_json::to_string_pretty(&json).expect("serialisable") + "\n";
            stabletune_model::checkpoint::write_atomic(&dir.join("results.json"), text.as_bytes())?;
            println!("{}", results::render(&rows, not_started));
            write_study_report(&study, &dir, read);
        }
        Err(e) => eprintln!("results table and report not written: {e}"),
    }
    for id in &report.abandoned {
        eprintln!("{id}: taken over by another process while this one was stalled; left to it");
    }
    if let Some(e) = &report.disk_full {
        eprintln!(
            "disk full: {e}\nstopped taking runs; every run keeps its last good checkpoint. Free space (or raise the \
             quota), then run the same command to continue."
        );
        return Ok(ExitCode::from(EXIT_DISK_FULL));
    }
    if stop.load(Ordering::SeqCst) || !report.interrupted.is_empty() {
        eprintln!(
            "interrupted: {} runs stopped with a checkpoint; run the same command to continue",
            report.interrupted.len()
        );
        return Ok(ExitCode::from(crate::train::EXIT_INTERRUPTED));
    }
    if !report.incomplete.is_empty() {
        eprintln!(
            "stopped waiting: nothing this process waited for moved for {} s ([execution] max_wait_seconds). Runs of \
             its shard not ended:",
            opts.max_wait.as_secs()
        );
        for line in &report.incomplete {
            eprintln!("  {line}");
        }
        eprintln!(
            "run the same command again to go on (`stabletune study status {}` shows the study)",
            dir.display()
        );
        return Ok(ExitCode::from(EXIT_INCOMPLETE));
    }
    let mine = |i: &usize| shard.is_none_or(|s| s.contains(*i));
    let left: Vec<&str> = (0..study.runs.len())
        .filter(mine)
        .filter(|&i| open(&study.runs[i]))
        .map(|i| study.runs[i].id.as_str())
        .collect();
    if !left.is_empty() {
        eprintln!("{} runs of this shard are not finished: {}", left.len(), left.join(", "));
        return Ok(ExitCode::from(EXIT_INCOMPLETE));
    }
    let others = study.runs.iter().filter(|r| open(r)).count();
    if others > 0 {
        eprintln!("this shard is done; {others} runs of other shards are still held by their processes");
    }
    Ok(ExitCode::SUCCESS)
}

/// `study run` stopped with runs of its shard not ended (held elsewhere, or waiting for a decision, past
/// the wait bound): the same command later goes on.
pub const EXIT_INCOMPLETE: u8 = 4;
/// `study run` stopped taking runs because the disk (or quota) is full; every run keeps its last good
/// checkpoint.
pub const EXIT_DISK_FULL: u8 = 5;

fn slurm(args: SlurmArgs) -> Result<ExitCode> {
    if args.array_size == 0 {
        bail!("--array-size must be at least 1");
    }
    let spec = Study::spec_from_arg(&args.study)?;
    let dir = absolute(&args.out.clone().unwrap_or_else(|| Study::default_dir(&spec)))?;
    let mut study = Study::plan(spec, &dir)?;
    if let Some(note) = study.prepare()? {
        eprintln!("{note}");
    }
    // The tasks run the snapshot in the study folder, never the user's file (which may be edited meanwhile).
    let study_arg = dir.join("study.toml").display().to_string();
    let logs = dir.join("slurm");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let opts = SlurmOptions {
        array_size: args.array_size,
        partition: args.partition,
        time: args.time,
        cpus_per_task: args.cpus_per_task,
        mem: args.mem,
    };
    let binary = std::env::current_exe().context("finding the stabletune binary")?;
    let workdir = std::env::current_dir().context("reading the working directory")?;
    let text = stabletune_study::slurm::script(&study.spec.name, &opts, &binary, &study_arg, &dir, &workdir);
    let path = logs.join("job.sbatch");
    stabletune_model::checkpoint::write_atomic(&path, text.as_bytes())?;
    print!("{text}");
    eprintln!("written to {}", path.display());
    if args.submit {
        let out = std::process::Command::new("sbatch")
            .arg(&path)
            .output()
            .context("running sbatch (is Slurm installed and on the PATH?)")?;
        if !out.status.success() {
            bail!("sbatch {} failed: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim());
        }
        println!("{}", String::from_utf8_lossy(&out.stdout).trim());
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per worker and an overall bar on a terminal; plain lines otherwise (Slurm logs).
struct Progress {
    bars: Option<(MultiProgress, Vec<ProgressBar>, ProgressBar)>,
    /// Runs ended, runs to do, and the workers that said they wait (once per wait).
    state: Mutex<(u64, u64, Vec<usize>)>,
}

impl Progress {
    fn new(workers: usize, runs: u64) -> Progress {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            let style = ProgressStyle::with_template("{prefix:>3} {bar:20} {pos:>5}/{len:5} {msg}")
                .expect("valid template");
            let per: Vec<ProgressBar> = (0..workers)
                .map(|w| {
                    let b = multi.add(ProgressBar::new(0).with_style(style.clone()));
                    b.set_prefix(format!("w{w}"));
                    b
                })
                .collect();
            let all = multi.add(ProgressBar::new(runs));
            all.set_style(
                ProgressStyle::with_template("runs {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}]")
                    .expect("valid template"),
            );
            (multi, per, all)
        });
        Progress { bars, state: Mutex::new((0, runs, Vec::new())) }
    }

    fn event(&self, e: Event) {
        let bars = self.bars.as_ref();
        match e {
            Event::Started { worker, id, resumed } => {
                self.state.lock().expect("progress lock").2.retain(|&w| w != worker);
                match bars {
                Some((_, per, _)) => per[worker].set_message(id),
                None => eprintln!("[w{worker}] {} {id}", if resumed { "resuming" } else { "starting" }),
                }
            }
            Event::Step { worker, id, record } => match bars {
                Some((_, per, _)) => {
                    per[worker].set_length(record.total_steps);
                    per[worker].set_position(record.step);
                    let msg = per[worker].message();
                    let dev = msg.split_once(" dev ").map_or(String::new(), |(_, d)| format!(" dev {d}"));
                    per[worker].set_message(format!("{id} loss {:.4}{dev}", record.loss));
                }
                None if record.step % 50 == 0 => {
                    eprintln!(
                        "[w{worker}] {id} step {}/{} loss {:.4}",
                        record.step, record.total_steps, record.loss
                    )
                }
                None => {}
            },
            Event::Eval { worker, id, step, value, headline } => match bars {
                Some((_, per, _)) => per[worker].set_message(format!("{id} dev {headline} {value:.4}")),
                None => eprintln!("[w{worker}] {id} step {step}: dev {headline} {value:.4}"),
            },
            Event::Finished { worker, id, summary } => {
                let mut st = self.state.lock().expect("progress lock");
                st.0 += 1;
                let head = &summary.headline_metric;
                let value = summary.final_metrics.get(head).map_or("-".into(), |v| format!("{v:.4}"));
                let line = format!(
                    "[w{worker}] {id}: {:?}, dev {head} {value} ({}/{} runs)",
                    summary.status, st.0, st.1
                );
                match bars {
                    Some((multi, _, all)) => {
                        all.inc(1);
                        let _ = multi.println(line);
                    }
                    None => eprintln!("{line}"),
                }
            }
            Event::Paused { worker, id, step, collapsed } => {
                let line = if collapsed {
                    format!("[w{worker}] {id}: fell to the majority baseline at step {step}: stopped, failed")
                } else {
                    format!("[w{worker}] {id}: at the decision point (step {step}), waits for its group")
                };
                self.say(line);
            }
            Event::Decided { group, continued, stopped, failed } => self.say(format!(
                "early stopping, {group}: {continued} runs continue, {stopped} stopped, {failed} failed before"
            )),
            Event::Waiting { worker, runs } => {
                let mut st = self.state.lock().expect("progress lock");
                // Once per worker and wait, not every poll.
                if !st.2.contains(&worker) {
                    st.2.push(worker);
                    drop(st);
                    self.say(format!(
                        "[w{worker}] waiting: {runs} run(s) of this shard are held by other workers or processes, or wait for \
                         an early-stopping decision"
                    ));
                }
            }
            Event::Flagged { worker, id, warning } => {
                self.say(format!("[w{worker}] {id}: failure sentinel {}", warning.sentence()))
            }
            Event::Restarted { worker, replaced, replacement } => {
                let mut st = self.state.lock().expect("progress lock");
                st.1 += 1;
                drop(st);
                if let Some((_, _, all)) = self.bars.as_ref() {
                    all.inc_length(1);
                }
                self.say(format!("[w{worker}] {replaced}: stopped by the sentinel, replaced by {replacement}"))
            }
            Event::Abandoned { worker, id } => self.say(format!(
                "[w{worker}] {id}: another process took the run over while this one was stalled; left to it, \
                 nothing more written"
            )),
        }
    }

    fn say(&self, line: String) {
        match self.bars.as_ref() {
            Some((multi, _, _)) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some((_, per, all)) = &self.bars {
            per.iter().for_each(|b| b.finish_and_clear());
            all.finish();
        }
    }
}
