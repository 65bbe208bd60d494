//! Password hashes: Argon2id, checked on a fixed set of threads that reuse their memory.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::AdminUser;
use crate::http::error::ApiError;

/// A job for a verifier thread.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads that check passwords, fed through a channel; they end when it closes
/// (when the [`AdminAuth`] that owns them is dropped).
pub(super) struct Verifiers {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Verifiers {
    pub(super) fn start(threads: usize) -> Verifiers {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let started = std::thread::Builder::new()
                .name(format!("amends-password-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let next = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match next {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "could not start a password-checking thread");
            }
        }
        Verifiers { jobs }
    }

    /// Runs `check` on a verifier thread and waits for its answer.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // The sign-in may have given up waiting; its answer is simply dropped.
                let _ = answer.send(check());
            }))
            .map_err(|_| ApiError::internal("the password-checking threads have stopped"))?;
        answered.await.map_err(ApiError::internal)
    }
}

/// The Argon2id hash of `password`, as a PHC string (what `AMENDS_ADMIN_USERS` holds).
///
/// The argon2 crate's default parameters, OWASP's recommended minimum for Argon2id: m = 19456
/// KiB (19 MiB of memory per hash or check), t = 2 iterations, p = 1 lane. The parameters
/// travel in the PHC string, so hashes made with others still verify.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

thread_local! {
    /// This thread's Argon2 memory (19 MiB with the default parameters), allocated once and
    /// reused by every check on the thread: allocating it per check left the freed buffers in
    /// the allocator, so the process grew by 19 MiB with each check on a new thread's arena.
    /// Only the verifier threads check passwords, so the process holds one per core.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `password` is the one `hash` (a PHC string) was made from, with the algorithm,
/// version and parameters the string names.
pub(super) fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_buffer = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = argon2::Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let computed = ARGON2_MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        let done = argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut memory[..blocks],
            )
            .is_ok();
        // What the password was mixed into does not stay behind.
        memory[..blocks].fill(argon2::Block::default());
        done
    });
    computed && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// What a password-mode session holds of its person's entry: changing the entry (a new
/// password) or removing it ends their sessions.
pub(super) fn user_fingerprint(user: &AdminUser) -> String {
    hex::encode(Sha256::digest(
        format!("{}:{}", user.name, user.password_hash).as_bytes(),
    ))
}
