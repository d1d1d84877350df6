//! Admission plugin: Pod Security Standards (baseline, restricted) chosen by namespace label.
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
