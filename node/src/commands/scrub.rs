//! `shardnet scrub status|start|pause`.

use super::print_json;
use crate::api::client::ApiClient;
use crate::cli::ScrubCommand;
use crate::output;
use crate::scrub::{Mode, ScrubStatus};
use serde_json::json;

fn print_status(s: &ScrubStatus, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(s)?;
        return Ok(0);
    }
    let st = &s.state;
    let mode = match st.mode {
        Mode::Paced => format!(
            "paced: a pass every {}",
            humantime::format_duration(std::time::Duration::from_secs(s.period_secs))
        ),
        Mode::Now => "running a pass now".to_string(),
        Mode::Paused => "PAUSED (`shardnet scrub start` resumes)".to_string(),
    };
    println!("scrub {mode}, tranquility {}", s.tranquility);
    if let Some(at) = s.waits_until {
        println!(
            "outside the maintenance windows: no reads until {}",
            output::time(at)
        );
    }
    println!(
        "current pass: {:.1}% ({} shards, {} of {}), last read rate {:.1} MB/s",
        s.progress * 100.0,
        st.pass_shards,
        output::size(st.pass_bytes),
        output::size(st.pass_total_bytes),
        s.rate / 1e6
    );
    match (st.last_full_pass_at, st.last_full_pass_secs) {
        (Some(at), Some(secs)) => println!(
            "last full pass: {} (took {}), {} passes",
            output::time(at),
            humantime::format_duration(std::time::Duration::from_secs(secs)),
            st.passes
        ),
        _ => println!("no full pass yet"),
    }
    println!(
        "since start of records: {} shards and {} checked, {} corrupted copies found",
        st.shards_checked,
        output::size(st.bytes_checked),
        st.corruptions_found
    );
    Ok(0)
}

pub(super) fn run(c: &ApiClient, cmd: ScrubCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        ScrubCommand::Status => print_status(&c.get("/v1/scrub/status")?, json),
        ScrubCommand::Start => print_status(&c.post("/v1/scrub/start", &json!({}))?, json),
        ScrubCommand::Pause => print_status(&c.post("/v1/scrub/pause", &json!({}))?, json),
    }
}
