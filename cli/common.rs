//! Flags shared by every command that runs the packet path (replay, bench, run): where the
//! settings come from and which rules to load.

use std::path::PathBuf;

use anyhow::anyhow;
use nfips_engine::settings::Settings;

#[derive(clap::Args, Debug)]
pub struct SettingsArgs {
    /// A TOML config file of settings (`nfips settings` prints one with every default).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a setting: KEY=VALUE (repeatable), e.g. `--set stream.midstream=true`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Rule files, or directories of *.rules files (repeatable; added to `rules.paths`).
    #[arg(long)]
    pub rules: Vec<PathBuf>,
    /// Variables file (`var`/`ipvar`/`portvar` lines), read before the rules (repeatable).
    #[arg(long)]
    pub vars: Vec<PathBuf>,
}

impl SettingsArgs {
    /// Defaults, then the config file, then `--set`, then `--rules`/`--vars`.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::default();
        if let Some(config) = &self.config {
            settings.load_toml(config)?;
        }
        for assignment in &self.set {
            settings
                .set_assignment(assignment)
                .map_err(|e| anyhow!(e))?;
        }
        settings.rules.paths.extend(self.rules.iter().cloned());
        settings.rules.vars.extend(self.vars.iter().cloned());
        Ok(settings)
    }
}
