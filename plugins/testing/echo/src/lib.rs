//! Test plugin (admission world): allows everything, with the warning `echo:<tag>` (the
//! configuration's `tag`), so a caller can see which version answered. A request named
//! `deny` is denied (403) instead, and one named `fail` returns a plugin error.

use keel_sdk::admission::{Admission, Mutation, PluginError, Request, Steps, Verdict, config};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(default)]
struct Config {
    tag: String,
}

struct Echo;

impl Admission for Echo {
    const STEPS: Steps = Steps::BOTH;

    fn mutate(_: Request) -> Result<Mutation, PluginError> {
        let tag = config::<Option<Config>>()?.unwrap_or_default().tag;
        let patch = serde_json::json!([{"op": "add", "path": "/metadata/annotations", "value": {"echo": tag}}]);
        Ok(Mutation {
            patch: Some(patch.to_string()),
            warnings: vec![],
        })
    }

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let tag = config::<Option<Config>>()?.unwrap_or_default().tag;
        match request.name.as_str() {
            "fail" => Err(PluginError::new("echo fails on purpose")),
            "deny" => Ok(Verdict::forbidden(format!("echo:{tag} denies"))),
            _ => Ok(Verdict {
                warnings: vec![format!("echo:{tag}")],
                ..Verdict::allow()
            }),
        }
    }
}

keel_sdk::export_admission!(Echo);
