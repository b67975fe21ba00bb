//! The one schema for both backends; see migrations/postgres and migrations/sqlite.

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    clinics (id) {
        id -> PortableUuid,
        name -> Text,
        created_at -> PortableTime,
        invitation_lifetime_minutes -> Nullable<Integer>,
        crisis_text -> Nullable<Text>,
        home_dose_advice -> Nullable<Text>,
        require_mfa -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    users (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        version -> Integer,
        created_at -> PortableTime,
        updated_at -> PortableTime,
        token_generation -> Integer,
        mfa_enabled -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    password_resets (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        user_id -> PortableUuid,
        token_hash -> Text,
        expires_at -> PortableTime,
        created_at -> PortableTime,
        created_by -> PortableUuid,
        used_at -> Nullable<PortableTime>,
        revoked_at -> Nullable<PortableTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    refresh_tokens (id) {
        id -> PortableUuid,
        family_id -> PortableUuid,
        user_id -> PortableUuid,
        token_hash -> Text,
        created_at -> PortableTime,
        expires_at -> PortableTime,
        rotated_at -> Nullable<PortableTime>,
        revoked_at -> Nullable<PortableTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    audit_events (id) {
        id -> PortableUuid,
        clinic_id -> Nullable<PortableUuid>,
        actor_id -> Nullable<PortableUuid>,
        actor_email -> Nullable<Text>,
        action -> Text,
        entity -> Text,
        entity_id -> Nullable<PortableUuid>,
        detail -> PortableJson,
        at -> PortableTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    idempotency_keys (user_id, key) {
        user_id -> PortableUuid,
        key -> Text,
        fingerprint -> Text,
        status -> Integer,
        body -> PortableJson,
        etag -> Nullable<Text>,
        location -> Nullable<Text>,
        created_at -> PortableTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    patients (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        external_id -> Nullable<Text>,
        display_name -> Text,
        birth_date -> Date,
        sex -> Text,
        diagnosis -> Text,
        research_consent -> Bool,
        version -> Integer,
        created_at -> PortableTime,
        updated_at -> PortableTime,
        created_by -> PortableUuid,
        updated_by -> PortableUuid,
        research_consent_changed_at -> Nullable<PortableTime>,
        course_stamp -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    infusions (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        patient_id -> PortableUuid,
        drug -> Text,
        route -> Text,
        guidance -> Nullable<Text>,
        started_at -> PortableTime,
        ended_at -> Nullable<PortableTime>,
        discharged_at -> Nullable<PortableTime>,
        dose_mg -> Double,
        weight_kg -> Nullable<Double>,
        dose_mg_per_kg -> Nullable<Double>,
        series_number -> Integer,
        lot_number -> Nullable<Text>,
        vitals -> PortableJson,
        cadss_total -> Nullable<Integer>,
        moaas -> Nullable<Integer>,
        adverse_event_codes -> PortableJson,
        adverse_event_notes -> Nullable<Text>,
        notes -> Nullable<Text>,
        status -> Text,
        version -> Integer,
        created_at -> PortableTime,
        updated_at -> PortableTime,
        created_by -> PortableUuid,
        updated_by -> PortableUuid,
        rems -> Nullable<PortableJson>,
        rems_pending -> Bool,
        recorded_by -> Text,
        home_plan_id -> Nullable<PortableUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    assessments (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        patient_id -> PortableUuid,
        instrument -> Text,
        rated_at -> PortableTime,
        recall -> Text,
        items -> Nullable<PortableJson>,
        total -> Integer,
        cgi_s -> Nullable<Integer>,
        cgi_i -> Nullable<Integer>,
        rater -> Text,
        collected_via -> Text,
        notes -> Nullable<Text>,
        status -> Text,
        version -> Integer,
        created_at -> PortableTime,
        updated_at -> PortableTime,
        created_by -> PortableUuid,
        updated_by -> PortableUuid,
        instrument_version -> Integer,
        text_version -> Nullable<Integer>,
        itemised -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    revisions (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        entity -> Text,
        entity_id -> PortableUuid,
        version -> Integer,
        snapshot -> PortableJson,
        changed_at -> PortableTime,
        changed_by -> PortableUuid,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    protocols (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        name -> Text,
        items -> PortableJson,
        status -> Text,
        version -> Integer,
        created_at -> PortableTime,
        updated_at -> PortableTime,
        created_by -> PortableUuid,
        updated_by -> PortableUuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    protocol_attachments (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        patient_id -> PortableUuid,
        protocol_id -> PortableUuid,
        protocol_version -> Integer,
        items -> PortableJson,
        attached_at -> PortableTime,
        attached_by -> PortableUuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    due_ratings (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        patient_id -> PortableUuid,
        infusion_id -> PortableUuid,
        attachment_id -> PortableUuid,
        protocol_id -> PortableUuid,
        item_index -> Integer,
        instrument -> Text,
        recall -> Text,
        due_at -> PortableTime,
        opens_at -> PortableTime,
        closes_at -> PortableTime,
        status -> Text,
        assessment_id -> Nullable<PortableUuid>,
        created_at -> PortableTime,
        updated_at -> PortableTime,
        remind_at -> Nullable<PortableTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    invitations (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        due_id -> PortableUuid,
        token_hash -> Text,
        expires_at -> PortableTime,
        created_at -> PortableTime,
        created_by -> PortableUuid,
        used_at -> Nullable<PortableTime>,
        revoked_at -> Nullable<PortableTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    webhook_endpoints (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        url -> Text,
        events -> PortableJson,
        secret -> Text,
        active -> Bool,
        created_at -> PortableTime,
        created_by -> PortableUuid,
        consecutive_failures -> Integer,
        paused_until -> Nullable<PortableTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    outbox (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        event -> Text,
        payload -> PortableJson,
        created_at -> PortableTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    webhook_deliveries (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        outbox_id -> PortableUuid,
        endpoint_id -> PortableUuid,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> PortableTime,
        last_attempt_at -> Nullable<PortableTime>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<PortableTime>,
        created_at -> PortableTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    alerts (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        patient_id -> PortableUuid,
        kind -> Text,
        level -> Text,
        cause_id -> PortableUuid,
        detail -> PortableJson,
        status -> Text,
        raised_at -> PortableTime,
        acknowledged_at -> Nullable<PortableTime>,
        acknowledged_by -> Nullable<PortableUuid>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    onset_summaries (patient_id, instrument) {
        patient_id -> PortableUuid,
        instrument -> Text,
        clinic_id -> PortableUuid,
        first_infusion_at -> PortableTime,
        first_drug -> Text,
        first_route -> Text,
        first_guidance -> Nullable<Text>,
        partial_response_hours -> Nullable<Double>,
        response_hours -> Nullable<Double>,
        remission_hours -> Nullable<Double>,
        last_hours -> Double,
        baseline_total -> Integer,
        first_dose_mg_per_kg -> Nullable<Double>,
        first_cadss_total -> Nullable<Integer>,
        loss_of_response_hours -> Nullable<Double>,
        loss_of_response_event -> Nullable<Bool>,
        relapse_hours -> Nullable<Double>,
        relapse_event -> Nullable<Bool>,
        acute_0_4h -> Nullable<Double>,
        acute_4_24h -> Nullable<Double>,
        acute_1_3d -> Nullable<Double>,
        acute_3_7d -> Nullable<Double>,
        acute_7_14d -> Nullable<Double>,
        acute_14_28d -> Nullable<Double>,
        acute_after_28d -> Nullable<Double>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    series_folds (patient_id, instrument) {
        patient_id -> PortableUuid,
        instrument -> Text,
        clinic_id -> PortableUuid,
        fold -> PortableJson,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    clinic_instruments (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        code -> Text,
        version -> Integer,
        definition -> PortableJson,
        created_at -> PortableTime,
        created_by -> PortableUuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    instrument_texts (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        instrument -> Text,
        definition_version -> Integer,
        text_version -> Integer,
        wording -> PortableJson,
        created_at -> PortableTime,
        created_by -> PortableUuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    audit_chain (event_id) {
        event_id -> PortableUuid,
        chain -> Text,
        seq -> BigInt,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_heads (chain) {
        chain -> Text,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    home_plans (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        patient_id -> PortableUuid,
        drug -> Text,
        route -> Text,
        dose_mg -> Double,
        doses_allowed -> Integer,
        min_interval -> Text,
        starts_at -> PortableTime,
        ends_at -> PortableTime,
        systolic_max -> Integer,
        diastolic_max -> Integer,
        heart_rate_max -> Integer,
        monitor_required -> Bool,
        protocol_id -> Nullable<PortableUuid>,
        notes -> Nullable<Text>,
        status -> Text,
        version -> Integer,
        created_at -> PortableTime,
        updated_at -> PortableTime,
        created_by -> PortableUuid,
        updated_by -> PortableUuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    dose_links (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        plan_id -> PortableUuid,
        token_hash -> Text,
        expires_at -> PortableTime,
        created_at -> PortableTime,
        created_by -> PortableUuid,
        used_at -> Nullable<PortableTime>,
        infusion_id -> Nullable<PortableUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    dose_checks (id) {
        id -> PortableUuid,
        clinic_id -> PortableUuid,
        link_id -> PortableUuid,
        plan_id -> PortableUuid,
        checked_at -> PortableTime,
        systolic -> Integer,
        diastolic -> Integer,
        heart_rate -> Integer,
        monitor_present -> Bool,
        go -> Bool,
        reason -> Nullable<Text>,
        vas_assessment_id -> Nullable<PortableUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    mfa_totp (user_id) {
        user_id -> PortableUuid,
        secret_sealed -> Text,
        confirmed_at -> Nullable<PortableTime>,
        last_step -> BigInt,
        created_at -> PortableTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;
    mfa_recovery_codes (id) {
        id -> PortableUuid,
        user_id -> PortableUuid,
        code_hash -> Text,
        used_at -> Nullable<PortableTime>,
    }
}

diesel::joinable!(audit_chain -> audit_events (event_id));
diesel::joinable!(onset_summaries -> patients (patient_id));
diesel::joinable!(series_folds -> patients (patient_id));
diesel::joinable!(users -> clinics (clinic_id));
diesel::joinable!(patients -> clinics (clinic_id));
diesel::joinable!(infusions -> patients (patient_id));
diesel::joinable!(assessments -> patients (patient_id));
diesel::joinable!(webhook_deliveries -> outbox (outbox_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::allow_tables_to_appear_in_same_query!(
    clinics, users, refresh_tokens, audit_events, idempotency_keys, patients, infusions,
    assessments, revisions, protocols, protocol_attachments, due_ratings, invitations,
    webhook_endpoints, outbox, webhook_deliveries, alerts, onset_summaries, series_folds, audit_chain, audit_heads,
    home_plans, dose_links, dose_checks, mfa_totp, mfa_recovery_codes,
);
