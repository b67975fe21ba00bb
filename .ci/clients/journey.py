"""A clinic's first morning through the Python client generated from openapi.yaml.

Run by .ci/clients/run against a live onset: BASE, EMAIL and PASSWORD in the environment.
Each step asserts what a front-end would rely on; the rename must leave consent alone.
"""
import os
import datetime as dt

from onset_client import AuthenticatedClient, Client
from onset_client.api.assessments import amend_assessment, create_assessment, get_assessment, list_assessment_revisions
from onset_client.api.auth import login
from onset_client.api.infusions import create_infusion
from onset_client.api.patients import create_patient, get_patient, get_trajectory, update_patient
from onset_client.models import (
    Assessment, AssessmentInput, AssessmentPatch, CollectedVia, Drug, InfusionInput, BuiltInInstrument, Items,
    LoginBody, Patient, PatientInput, PatientPatch, Rater, Recall, Route, Sex, Trajectory,
)
from onset_client.types import UNSET

base = os.environ["BASE"]
tokens = login.sync(client=Client(base_url=base), body=LoginBody(email=os.environ["EMAIL"], password=os.environ["PASSWORD"]))
client = AuthenticatedClient(base_url=base, token=tokens.access_token)

patient = create_patient.sync(client=client, body=PatientInput(display_name="Py Journey", birth_date=dt.date(1990, 5, 1), sex=Sex.FEMALE, diagnosis="F42.2", research_consent=True))
assert isinstance(patient, Patient), patient
renamed = update_patient.sync(patient.id, client=client, body=PatientPatch(display_name="Py Journey Renamed"))
assert isinstance(renamed, Patient), renamed
assert renamed.display_name == "Py Journey Renamed"
assert renamed.research_consent is True, "a rename withdrew consent"
assert renamed.research_consent_changed_at == patient.research_consent_changed_at
assert get_patient.sync(patient.id, client=client).research_consent is True

t0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
session = create_infusion.sync(patient.id, client=client, body=InfusionInput(drug=Drug.KETAMINE, route=Route.IV, started_at=t0, dose_mg=35.0, weight_kg=70.0))
assert session.series_number == 1 and session.drug == Drug.KETAMINE, session


def rating(at, per_item):
    items = Items.from_dict({str(i): per_item for i in range(1, 11)})
    body = AssessmentInput(instrument=BuiltInInstrument.YBOCS, rated_at=at, recall=Recall.P7D, items=items, rater=Rater.CLINICIAN, collected_via=CollectedVia.INTERVIEW)
    created = create_assessment.sync(patient.id, client=client, body=body)
    assert isinstance(created, Assessment), created
    return created


rating(t0 - dt.timedelta(days=1), 3)   # baseline 30
after = rating(t0 + dt.timedelta(hours=4), 1)   # 10: a response and a remission

trajectory = get_trajectory.sync(patient.id, client=client)
assert isinstance(trajectory, Trajectory), trajectory
row = trajectory.series[0].ratings[1]
assert (row.response.value, row.remission, row.early_improvement) == ("response", True, True), row
assert trajectory.series[0].summary.hours_to_remission == 4.0

# Round trip: what a form read is what it sends back, plus a reason.
read = get_assessment.sync(after.id, client=client)
fields = read.to_dict()
editable = {k: fields[k] for k in ("instrument", "rated_at", "recall", "items", "cgi_s", "cgi_i", "rater", "collected_via", "notes")}
editable["items"]["4"] = 2
patch = AssessmentPatch.from_dict({**editable, "reason": "item 4 misread"})
amended = amend_assessment.sync(after.id, client=client, body=patch, if_match=f'"{read.version}"')
assert isinstance(amended, Assessment), amended
assert (amended.total, amended.version) == (11, 2), amended

revisions = list_assessment_revisions.sync(after.id, client=client)
assert [r.version for r in revisions.items] == [1, 2], revisions
first = revisions.items[0]
assert (first.total, first.reason, first.id) == (10, None, after.id), first
assert revisions.items[1].reason == "item 4 misread"
print("python client journey: ok")
