//! Why a plugin library was refused at load time.

use std::path::PathBuf;

/// A plugin library that cannot be used. Every variant names the file and says what to do.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PluginError {
    /// The file does not exist.
    #[error(
        "plugin library `{path}` does not exist; build the plugin (`cargo build -p <plugin crate>`) and point \
         `plugin =` at the built library, or at its name inside `[plugins] dir`"
    )]
    NotFound {
        /// The path looked at.
        path: PathBuf,
    },
    /// The dynamic loader refused the file.
    #[error("cannot load plugin library `{path}`: {reason}; check it is a shared library built for this platform")]
    Open {
        /// The library.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// A required symbol is missing.
    #[error(
        "`{path}` does not export `{symbol}`: it is not a herald plugin, or it was built by hand or against another \
         SDK; build it with `herald_plugin::export_plugin!`"
    )]
    MissingSymbol {
        /// The library.
        path: PathBuf,
        /// The missing symbol.
        symbol: String,
    },
    /// The library was built for another ABI version.
    #[error(
        "`{path}` was built for herald plugin ABI version {found}, but this herald speaks version {expected} (and \
         still loads version 1); rebuild the plugin against the `herald-plugin` crate of this herald release"
    )]
    AbiMismatch {
        /// The library.
        path: PathBuf,
        /// What the library reported.
        found: u32,
        /// What the host speaks.
        expected: u32,
    },
    /// `herald_plugin_describe` did not return a valid description.
    #[error("`{path}` returned an unusable description: {reason}; the plugin is broken, rebuild it with the SDK")]
    Describe {
        /// The library.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}
