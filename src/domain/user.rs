//! Accounts: the roles a user can hold and what makes an email or a name acceptable.

use super::FieldError;
use super::fields::vocabulary;

vocabulary!(Role { Admin = "admin", Clinician = "clinician", Researcher = "researcher" });

/// Roles allowed to read and write clinical records.
pub const CLINICAL: &[Role] = &[Role::Clinician, Role::Admin];

/// An address of at most 254 characters (RFC 5321) with a local part and a dotted domain.
pub fn check_email(email: &str) -> Option<&'static str> {
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    (!valid).then_some("must be an email address")
}

pub fn check_name(errors: &mut Vec<FieldError>, name: &str) {
    if name.trim().is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must be 1 to 200 characters"));
    }
}

pub fn parse_role(errors: &mut Vec<FieldError>, role: &str) -> Option<Role> {
    super::fields::one_of(errors, "role", Some(role), Role::parse, &Role::codes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        for good in ["a@b.org", "first.last+tag@clinic.example.org"] {
            assert_eq!(check_email(good), None, "{good}");
        }
        for bad in ["", "a@b", "@b.org", "a@.org", "a@b.org.", "a b@c.org", "a@b@c.org", &format!("{}@b.org", "a".repeat(250))] {
            assert!(check_email(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn roles_parse_from_their_codes_only() {
        assert_eq!(Role::parse("clinician"), Some(Role::Clinician));
        assert_eq!(Role::parse("Admin"), None);
        let mut errors = Vec::new();
        assert_eq!(parse_role(&mut errors, "owner"), None);
        assert_eq!(errors[0].message, "must be one of: admin, clinician, researcher");
    }
}
