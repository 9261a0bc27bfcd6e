//! Who is acting on the admin API, and whether they may: a signed-in operator (its session
//! cookie, see [`super::session`]) or an admin token for automation (`Authorization: Bearer
//! oat_...`, acting with the token's role, no CSRF: no browser sends it by itself). Every
//! route takes an [`Admin`] and asks [`Admin::require`] for its permission — the one check,
//! over the one table `Role::allows`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use octopus_domain::operator::{Permission, Role};

use super::session::{peer_ip, SignedIn};
use crate::clock::now_ms;
use crate::error::Error;
use crate::services::operators::{token_hash, Actor};
use crate::state::AppState;

/// How often a token's last use is written (every request would be a write).
const TOKEN_TOUCH_EVERY_MS: i64 = 60 * 1000;

/// Someone allowed on the admin API.
#[derive(Clone)]
pub struct Admin {
    pub actor: Actor,
    pub role: Role,
    /// Why nothing is allowed yet (a session's one-time password, TOTP not enrolled).
    held_back: Option<&'static str>,
    /// The session's CSRF token (none for an admin token), for the console's pages.
    pub csrf: Option<String>,
}

impl Admin {
    /// A signed-in operator's session as an [`Admin`].
    pub fn from_session(signed_in: &SignedIn) -> Admin {
        Admin {
            actor: signed_in.actor(),
            role: signed_in.operator.role,
            held_back: signed_in.held_back(),
            csrf: Some(signed_in.session.csrf_token.clone()),
        }
    }

    /// Why nothing is allowed yet, if so.
    pub fn held_back(&self) -> Option<&'static str> {
        self.held_back
    }

    /// Refuses (403) what the role may not do, and everything while held back.
    pub fn require(&self, action: Permission) -> Result<(), Error> {
        if let Some(why) = self.held_back {
            return Err(Error::Forbidden(why));
        }
        if self.role.allows(action) {
            Ok(())
        } else {
            Err(Error::Forbidden("Your role does not allow this"))
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let Some(token) = bearer else {
            let signed_in = SignedIn::from_request_parts(parts, state).await?;
            if !signed_in.operator.merchant_uid.is_empty() {
                return Err(Error::Forbidden("Your role does not allow this"));
            }
            return Ok(Admin::from_session(&signed_in));
        };
        let unknown = || Error::Unauthorized("Unknown or revoked admin token".into());
        let found = state
            .storage
            .admin_token(&token_hash(&token))
            .await?
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(unknown)?;
        let now = now_ms();
        if now - found.last_used_at >= TOKEN_TOUCH_EVERY_MS {
            state.storage.touch_admin_token(found.id, now).await?;
        }
        let ip = peer_ip(&parts.extensions, &parts.headers, state);
        Ok(Admin {
            actor: Actor {
                name: format!("token:{}", found.name),
                role: found.role.as_str().into(),
                ip: ip.to_string(),
            },
            role: found.role,
            held_back: None,
            csrf: None,
        })
    }
}
