//! `/v1/jobs/{id}/events`: a job's state changes as server-sent events, read from the chain
//! every `jobs.poll_interval_ms` until the job can no longer change.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State as Extract;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_core::Stream;

use crate::api::jobs::{job_response, parse_job_id};
use crate::error::{ApiError, ErrorBody};
use crate::extract::PathParam;
use crate::state::State;
use crate::views::JobResponse;

/// Streams the job: an event `job` now and after every change (its data is the job as
/// `GET /v1/jobs/{id}` shows it), an event `error` when the chain cannot be read (the stream
/// goes on and says `job` again once it can), and a last event `end` once the job is
/// finalized, cancelled or refunded; then the stream closes.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/events",
    tag = "jobs",
    params(("id" = u64, Path, description = "Job id")),
    responses(
        (status = 200, description = "Events `job` (data: the job), `error` (data: an error body), `end` (data: the final status)", body = JobResponse, content_type = "text/event-stream"),
        (status = 400, description = "`invalid_job_id`", body = ErrorBody),
        (status = 404, description = "`unknown_job`", body = ErrorBody),
        (status = 503, description = "`chain_unavailable`", body = ErrorBody),
    )
)]
pub async fn job_events(
    Extract(state): Extract<State>,
    PathParam(id): PathParam<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let job_id = parse_job_id(&id)?;
    let first = job_response(&state, job_id).await?;
    let poll = Duration::from_millis(state.config.jobs.poll_interval_ms);
    let events = async_stream::stream! {
        yield Ok(job_event(&first));
        let mut last = first;
        let mut failing = false;
        while !last.status.is_terminal() {
            // The server waits for open streams when it stops: end them at once.
            let Some(()) = state.until_shutdown(tokio::time::sleep(poll)).await else {
                return;
            };
            let Some(read) = state.until_shutdown(job_response(&state, job_id)).await else {
                return;
            };
            match read {
                Ok(now) => {
                    failing = false;
                    if now != last {
                        yield Ok(job_event(&now));
                        last = now;
                    }
                }
                // Once per outage, not once per poll.
                Err(e) if !failing => {
                    failing = true;
                    yield Ok(json_event("error", &e.body()));
                }
                Err(_) => {}
            }
        }
        yield Ok(json_event("end", &last.status));
    };
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn job_event(job: &JobResponse) -> Event {
    json_event("job", job)
}

pub(crate) fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    // Serialising these plain structs cannot fail.
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_default())
}
