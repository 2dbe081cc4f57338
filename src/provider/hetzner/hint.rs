//! The next step for a failed Hetzner API call, by error code first (the API uses 400 and 422
//! for the same codes, and 409/423 for several), then by status. Pure.

use crate::provider::ApiFailure;

/// What the user should do about `failure`, if kamal-dev knows.
pub fn hint(failure: &ApiFailure) -> Option<String> {
    let text = match (failure.code.as_str(), failure.status) {
        ("unauthorized", _) | (_, 401) => {
            "check HCLOUD_TOKEN: it must be an API token of the project (Hetzner Console: Security > API tokens)"
        }
        ("token_readonly", _) => "HCLOUD_TOKEN is read-only; create a Read & Write API token",
        ("resource_limit_exceeded", _) => {
            "a project limit was reached; delete unused servers or ask Hetzner to raise the limit"
        }
        ("forbidden", _) | (_, 403) => "the API token lacks permission for this",
        ("uniqueness_error", _) => {
            "a server with this name already exists in the project; remove it or change naming.pattern in config/dev.yml"
        }
        ("protected", _) => {
            "the server has delete or rebuild protection; turn it off in the Hetzner Console"
        }
        ("locked" | "conflict", _) | (_, 409 | 423) => {
            "the server is busy with another action; wait a minute and retry"
        }
        ("resource_unavailable" | "placement_error", _) | (_, 412) => {
            "the location is out of capacity for this server type; try another provider.zone or provider.plan"
        }
        ("invalid_server_type", _) => {
            "set provider.plan in config/dev.yml to a server type offered in provider.zone (`kamal-dev cost` lists them)"
        }
        ("invalid_input" | "json_error", _) | (_, 400 | 422) => {
            "the request was refused as invalid; check provider.plan (server type), provider.zone (location) and provider.image in config/dev.yml"
        }
        ("not_found", _) | (_, 404) => {
            "it no longer exists; it may have been deleted outside kamal-dev"
        }
        ("rate_limit_exceeded", _) | (_, 429) => {
            "the project's API rate limit (3600 requests an hour) is spent; wait a few minutes and retry"
        }
        // An action reported failure (the poll itself answered 200).
        (_, 200) => {
            "the action failed on Hetzner's side; check the server in the Hetzner Console, then retry"
        }
        (_, 500..) => "Hetzner had an internal problem; retry in a few minutes",
        _ => return None,
    };
    Some(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint_for(status: u16, code: &str) -> String {
        hint(&ApiFailure::new(status, code, "m")).unwrap_or_default()
    }

    #[test]
    fn hints_follow_code_then_status() {
        assert!(hint_for(401, "unauthorized").contains("HCLOUD_TOKEN"));
        assert!(!hint_for(401, "unauthorized").contains("UPCLOUD"));
        assert!(hint_for(403, "resource_limit_exceeded").contains("limit"));
        assert!(hint_for(409, "uniqueness_error").contains("name already exists"));
        assert!(hint_for(423, "locked").contains("busy"));
        assert!(hint_for(423, "protected").contains("protection"));
        assert!(hint_for(422, "invalid_input").contains("provider.plan"));
        assert!(hint_for(400, "invalid_input").contains("provider.plan"));
        assert!(hint_for(200, "action_failed").contains("action failed"));
        assert!(hint_for(503, "").contains("retry"));
        assert_eq!(hint(&ApiFailure::new(418, "", "")), None);
    }
}
