//! Webhook signing secrets: made here, shown once, and kept encrypted.
//!
//! A signature is an HMAC keyed with the secret itself, so the server must be able to read the
//! secret back: a hash, as for API keys, cannot sign. The secret is therefore encrypted with
//! AES-256-GCM under a key that is not in the database (`WEBHOOK_SECRETS_KEY`, or the file of
//! `WEBHOOK_SECRETS_KEY_FILE`), with the endpoint's id as associated data: a copy of the
//! database alone reveals no secret, and a ciphertext moved to another endpoint's row does not
//! decrypt. Stored form: `v1.` + base64(12-byte nonce ‖ ciphertext ‖ tag).

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Random bytes in a secret (the contract asks for at least 24).
const SECRET_BYTES: usize = 32;
const PREFIX: &str = "whsec_";
const STORED_VERSION: &str = "v1.";

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
pub fn generate() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

/// Encrypts and decrypts signing secrets at rest.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    fingerprint: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// The key given as base64 of 32 bytes.
    pub fn from_base64(key: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(key.trim())
            .context("WEBHOOK_SECRETS_KEY is not base64")?;
        if bytes.len() != 32 {
            bail!(
                "WEBHOOK_SECRETS_KEY must be base64 of 32 bytes, it has {}",
                bytes.len()
            );
        }
        let digest = Sha256::new()
            .chain_update(b"clients-api webhook secrets key fingerprint v1\n")
            .chain_update(&bytes)
            .finalize();
        let fingerprint = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            fingerprint,
        })
    }

    /// Names the key without revealing it (a hash of it), so that instances can tell they hold
    /// the same one.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The key of `path`, made (32 random bytes, base64, mode 0600) when the file does not exist.
    /// Two processes starting at once agree: the file appears whole or not at all.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if let Some(dir) = dir {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).expect("the operating system's random source works");
            let mut temp = tempfile_in(dir.unwrap_or(Path::new(".")))?;
            writeln!(temp.1, "{}", STANDARD.encode(key))?;
            temp.1.sync_all()?;
            // A hard link fails when the name exists: the first process's key wins.
            match std::fs::hard_link(&temp.0, path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "created the key of webhook secrets")
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    let _ = std::fs::remove_file(&temp.0);
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
            let _ = std::fs::remove_file(&temp.0);
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_base64(&text).with_context(|| format!("in {}", path.display()))
    }

    /// The stored form of `secret`, bound to the endpoint `id`.
    pub fn seal(&self, id: Uuid, secret: &str) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the operating system's random source works");
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: id.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message this short");
        let mut out = Vec::with_capacity(nonce.len() + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{STORED_VERSION}{}", STANDARD.encode(out))
    }

    /// The secret of endpoint `id` from its stored form; fails when the key is not the one it
    /// was sealed with, or the row was altered or belongs to another endpoint.
    pub fn open(&self, id: Uuid, stored: &str) -> anyhow::Result<String> {
        let encoded = stored
            .strip_prefix(STORED_VERSION)
            .context("unknown stored secret format")?;
        let bytes = STANDARD
            .decode(encoded)
            .context("stored secret is not base64")?;
        if bytes.len() < 12 + 16 {
            bail!("stored secret is too short");
        }
        let (nonce, sealed) = bytes.split_at(12);
        let secret = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "the secret does not decrypt with this key (another WEBHOOK_SECRETS_KEY?)"
                )
            })?;
        String::from_utf8(secret).context("the secret is not text")
    }
}

/// A new file in `dir` with a name of its own, mode 0600.
fn tempfile_in(dir: &Path) -> anyhow::Result<(std::path::PathBuf, std::fs::File)> {
    let path = dir.join(format!(".webhook-secrets.{}.tmp", Uuid::now_v7().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_box() -> SecretBox {
        SecretBox::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn a_secret_has_the_standard_form_and_enough_randomness() {
        let secret = generate();
        let bytes = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert!(bytes.len() >= 24);
        assert_ne!(secret, generate());
        assert!(standardwebhooks::Webhook::new(&secret).is_ok());
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_endpoint_and_key() {
        let (id, other) = (Uuid::now_v7(), Uuid::now_v7());
        let secret = generate();
        let stored = sample_box().seal(id, &secret);
        assert!(!stored.contains(&secret[6..]));
        assert_eq!(sample_box().open(id, &stored).unwrap(), secret);
        assert!(sample_box().open(other, &stored).is_err());
        let another_key = SecretBox::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(another_key.open(id, &stored).is_err());
        assert_ne!(another_key.fingerprint(), sample_box().fingerprint());
        assert_eq!(sample_box().fingerprint().len(), 32);
        let mut altered = stored.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(sample_box()
            .open(id, &String::from_utf8(altered).unwrap())
            .is_err());
    }

    #[test]
    fn the_key_file_is_made_once_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/webhook.key");
        let first = SecretBox::from_file(&path).unwrap();
        let stored = first.seal(Uuid::nil(), "whsec_abc");
        let again = SecretBox::from_file(&path).unwrap();
        assert_eq!(again.open(Uuid::nil(), &stored).unwrap(), "whsec_abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(SecretBox::from_base64("c2hvcnQ=").is_err());
    }
}
