use std::future::Future;

use tonic::Code;

use crate::config::RetryPolicy;
use crate::error::{ClientError, Result};

/// Whether a failed call may succeed if repeated unchanged: the node was unreachable, busy or
/// restarting. Anything the node answered deliberately is final.
fn transient(status: &tonic::Status) -> bool {
    // A node that has just restarted serves gRPC before its first block is committed and
    // answers queries with "invalid height" until then.
    const STARTING: &str = "context did not contain latest block height";
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted
    ) || (status.code() == Code::Unknown
        && (status.message().contains("transport error") || status.message().contains(STARTING)))
}

/// Runs `call` until it succeeds, fails for good, or the policy's attempts are spent, backing
/// off exponentially between attempts.
pub async fn with_retry<T, F, Fut>(policy: &RetryPolicy, what: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, tonic::Status>>,
{
    let mut delay = policy.backoff;
    let mut attempt = 1;
    loop {
        let outcome = tokio::time::timeout(policy.request_timeout, call()).await;
        let status = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(status)) if !transient(&status) => return Err(status.into()),
            Ok(Err(status)) => status,
            Err(_) => tonic::Status::deadline_exceeded(format!(
                "no answer within {:?}",
                policy.request_timeout
            )),
        };
        if attempt >= policy.attempts {
            return Err(ClientError::Unavailable {
                attempts: attempt,
                status: Box::new(status),
            });
        }
        tracing::warn!(%what, attempt, error = %status.message(), "chain call failed; retrying in {delay:?}");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(policy.max_backoff);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            request_timeout: Duration::from_secs(1),
            attempts: 3,
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            sequence_attempts: 1,
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let out = with_retry(&fast(), "test", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(tonic::Status::unavailable("node restarting"))
            } else {
                Ok(7)
            }
        })
        .await
        .unwrap();
        assert_eq!((out, calls.load(Ordering::SeqCst)), (7, 3));
    }

    #[tokio::test]
    async fn final_answers_are_not_retried_and_attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let err = with_retry(&fast(), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(tonic::Status::invalid_argument("bad request"))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, ClientError::Grpc(_)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let err = with_retry(&fast(), "test", || async {
            Err::<(), _>(tonic::Status::unavailable("down"))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, ClientError::Unavailable { attempts: 3, .. }));
    }
}
