//! The plugin host's errors: why a module was refused at load, and why one call failed.
//! A call error is about that one call; the host and every other plugin go on.

/// Why a module could not become a plugin version. The running version stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The bytes do not hash to the digest the Plugin names.
    #[error("module digest is {actual}, not the {expected} the Plugin names")]
    DigestMismatch {
        /// The digest the Plugin names.
        expected: String,
        /// The digest of the bytes.
        actual: String,
    },
    /// The Plugin's spec is not usable (limits out of range, bad fields).
    #[error("invalid plugin spec: {0}")]
    Spec(String),
    /// The bytes are not a valid WebAssembly component.
    #[error("module does not compile: {0}")]
    Compile(String),
    /// The component was built against another contract version.
    #[error("module was built against keel:plugin@{wants}; this host speaks keel:plugin@{speaks}")]
    ContractVersion {
        /// The version the component imports or exports.
        wants: String,
        /// The version this host implements.
        speaks: String,
    },
    /// The component does not export the interface its Plugin's type needs.
    #[error("module does not export keel:plugin/{expected}@{version} (it exports: {exports})")]
    WrongType {
        /// The interface the Plugin's type needs.
        expected: String,
        /// The contract version.
        version: String,
        /// What the component exports.
        exports: String,
    },
    /// The component imports something the host does not grant.
    #[error("module cannot be linked: {0}")]
    Link(String),
    /// Instantiating the component failed (its start trapped or it is too large).
    #[error("module cannot be instantiated: {0}")]
    Instantiate(String),
    /// The module could not say what it implements (its `describe` failed).
    #[error("module cannot describe itself: {0}")]
    Describe(String),
    /// The module's bytes are not available.
    #[error("module {digest} is not available: {reason}")]
    Missing {
        /// The digest asked for.
        digest: String,
        /// Why it could not be had.
        reason: String,
    },
}

impl LoadError {
    /// A short CamelCase reason for a Ready=False condition.
    pub fn reason(&self) -> &'static str {
        match self {
            LoadError::DigestMismatch { .. } => "DigestMismatch",
            LoadError::Spec(_) => "InvalidSpec",
            LoadError::Compile(_) => "CompileFailed",
            LoadError::ContractVersion { .. } => "ContractVersionMismatch",
            LoadError::WrongType { .. } => "WrongPluginType",
            LoadError::Link(_) => "LinkFailed",
            LoadError::Instantiate(_) => "InstantiateFailed",
            LoadError::Describe(_) => "DescribeFailed",
            LoadError::Missing { .. } => "ModuleMissing",
        }
    }
}

/// Why one call to a plugin failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin {plugin}: {kind}")]
pub struct CallError {
    /// The plugin's name.
    pub plugin: String,
    /// What went wrong.
    pub kind: CallErrorKind,
}

/// What went wrong in a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallErrorKind {
    /// The call ran past its wall-clock deadline and was interrupted.
    #[error("ran past its deadline of {millis} ms")]
    Timeout {
        /// The deadline.
        millis: u64,
    },
    /// The call used up its fuel budget.
    #[error("used up its fuel budget of {fuel}")]
    FuelExhausted {
        /// The budget.
        fuel: u64,
    },
    /// The plugin asked for more linear memory than its cap.
    #[error("exceeded its memory limit of {bytes} bytes")]
    MemoryLimit {
        /// The cap.
        bytes: u64,
    },
    /// The plugin's wasm stack overflowed.
    #[error("overflowed its stack")]
    StackOverflow,
    /// The plugin trapped (a panic, an unreachable, an out-of-bounds access).
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin called `exit`.
    #[error("exited with status {0}")]
    Exited(i32),
    /// The answer broke the contract or the answer size limit.
    #[error("returned a bad answer: {0}")]
    BadAnswer(String),
    /// The plugin answered with an error of its own.
    #[error("answered with an error: {0}")]
    Plugin(String),
    /// A fresh instance could not be made.
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
    /// The plugin is not of the type this call needs.
    #[error("is a {actual} plugin, not a {expected} plugin")]
    WrongType {
        /// The type the call needs.
        expected: &'static str,
        /// The plugin's type.
        actual: &'static str,
    },
}

impl CallError {
    /// A short CamelCase reason, for Status responses and counters.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            CallErrorKind::Timeout { .. } => "PluginTimeout",
            CallErrorKind::FuelExhausted { .. } => "PluginFuelExhausted",
            CallErrorKind::MemoryLimit { .. } => "PluginMemoryLimit",
            CallErrorKind::StackOverflow => "PluginStackOverflow",
            CallErrorKind::Trap(_) => "PluginTrap",
            CallErrorKind::Exited(_) => "PluginExited",
            CallErrorKind::BadAnswer(_) => "PluginBadAnswer",
            CallErrorKind::Plugin(_) => "PluginError",
            CallErrorKind::Instantiate(_) => "PluginInstantiateFailed",
            CallErrorKind::WrongType { .. } => "PluginWrongType",
        }
    }
}
