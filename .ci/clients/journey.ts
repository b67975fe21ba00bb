// A clinic's first morning through TypeScript types generated from openapi.yaml
// (openapi-typescript) and openapi-fetch. Compiled with `tsc --strict` before it runs.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

function check(condition: boolean, message: string): asserts condition {
    if (!condition) throw new Error(message);
}

async function main(): Promise<void> {
    const base = process.env.BASE!;
    const anonymous = createClient<paths>({ baseUrl: base });
    const tokens = await anonymous.POST("/api/v1/auth/login", { body: { email: process.env.EMAIL!, password: process.env.PASSWORD! } });
    check(tokens.data !== undefined, `login: ${JSON.stringify(tokens.error)}`);
    const api = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${tokens.data.access_token}` } });

    const input: Schemas["PatientInput"] = { display_name: "Ts Journey", birth_date: "1990-05-01", sex: "male", diagnosis: "F42.2", research_consent: true };
    const created = await api.POST("/api/v1/patients", { body: input });
    check(created.data !== undefined, `create patient: ${JSON.stringify(created.error)}`);
    const id = created.data.id;
    const rename: Schemas["PatientPatch"] = { display_name: "Ts Journey Renamed" };
    const renamed = await api.PATCH("/api/v1/patients/{id}", { params: { path: { id } }, body: rename });
    check(renamed.data !== undefined, `rename: ${JSON.stringify(renamed.error)}`);
    check(renamed.data.research_consent === true, "a rename withdrew consent");
    check(renamed.data.research_consent_changed_at === created.data.research_consent_changed_at, "consent time moved");

    const session: Schemas["InfusionInput"] = { drug: "esketamine", route: "intranasal", started_at: "2026-03-02T09:00:00Z", dose_mg: 56 };
    const logged = await api.POST("/api/v1/patients/{id}/infusions", { params: { path: { id } }, body: session });
    check(logged.data !== undefined, `session: ${JSON.stringify(logged.error)}`);
    check(logged.data.warnings.some((w) => w.code === "rems_spo2_missing"), "REMS warnings are typed");

    const items = (score: number): Schemas["Items"] => Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(i + 1), score]));
    const rate = async (rated_at: string, score: number): Promise<Schemas["Assessment"]> => {
        const body: Schemas["AssessmentInput"] = { instrument: "ybocs", rated_at, recall: "P7D", items: items(score), rater: "clinician", collected_via: "interview" };
        const r = await api.POST("/api/v1/patients/{id}/assessments", { params: { path: { id } }, body });
        check(r.data !== undefined, `rating: ${JSON.stringify(r.error)}`);
        return r.data;
    };
    await rate("2026-03-01T09:00:00Z", 3);
    const after = await rate("2026-03-02T13:00:00Z", 1);

    const trajectory = await api.GET("/api/v1/patients/{id}/trajectory", { params: { path: { id } } });
    check(trajectory.data !== undefined, "trajectory");
    const row = trajectory.data.series[0].ratings[1];
    check(row.response === "response" && row.remission === true && row.early_improvement === true, JSON.stringify(row));

    // Round trip: the fields a form read go back unchanged in the PATCH, plus a reason.
    const read = await api.GET("/api/v1/assessments/{id}", { params: { path: { id: after.id } } });
    check(read.data !== undefined, "read rating");
    const a = read.data;
    const patch: Schemas["AssessmentPatch"] = {
        instrument: a.instrument, rated_at: a.rated_at, recall: a.recall, items: a.items ? { ...a.items, "4": 2 } : null,
        cgi_s: a.cgi_s, cgi_i: a.cgi_i, rater: a.rater, collected_via: a.collected_via, notes: a.notes, reason: "item 4 misread",
    };
    const amended = await api.PATCH("/api/v1/assessments/{id}", { params: { path: { id: a.id }, header: { "If-Match": `"${a.version}"` } }, body: patch });
    check(amended.data !== undefined && amended.data.total === 11, `amend: ${JSON.stringify(amended.error)}`);

    const revisions = await api.GET("/api/v1/assessments/{id}/revisions", { params: { path: { id: a.id } } });
    check(revisions.data !== undefined, "revisions");
    const versions = revisions.data.items.map((r) => [r.version, r.total, r.reason, r.id]);
    check(JSON.stringify(versions) === JSON.stringify([[1, 10, null, a.id], [2, 11, "item 4 misread", a.id]]), JSON.stringify(versions));
    console.log("typescript client journey: ok");
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
