//! Admission plugin: ResourceQuota counts and resource sums per namespace, charged atomically with each write.
//!
//! (Being written.)

use keel_sdk::admission::{Admission, Mutation, PluginError, Request, Verdict};

struct Plugin;

impl Admission for Plugin {
    fn mutate(_: Request) -> Result<Mutation, PluginError> {
        Ok(Mutation::none())
    }

    fn validate(_: Request) -> Result<Verdict, PluginError> {
        Ok(Verdict::allow())
    }
}

keel_sdk::export_admission!(Plugin);
