# Sourced by the real-component tests: `small_study DIR NAME [EXTRA_TOML]` writes DIR/study.toml, a study
# of the real MiniLM on the first 100 training and 32 dev rows of SST-2 (copied to DIR/sst2): 2 recipes x
# seeds 1-3, 32 examples each, evaluated once an epoch; EXTRA_TOML adds or sets run settings (max_steps).
small_study() {
    local dir=$1 name=$2 extra=${3:-}
    mkdir -p "$dir/sst2"
    head -n 101 "$ASSETS/glue/SST-2/train.tsv" > "$dir/sst2/train.tsv"
    head -n 33 "$ASSETS/glue/SST-2/dev.tsv" > "$dir/sst2/dev.tsv"
    cat > "$dir/study.toml" <<TOML
name = "$name"
model = "$ASSETS/models/all-MiniLM-L6-v2"
tasks = ["sst-2"]
data_dir = "$dir/sst2"
recipes = ["devlin2019", "mosbach2021"]
seeds = "1..3"
train_limit = 32
evals_per_epoch = 1
$extra
TOML
}
