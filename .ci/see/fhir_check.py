"""Every FHIR resource onset serves, validated by fhir.resources' R4B models; search
paging checked: a small page size and the largest give the same resources, none twice.

usage: fhir_check.py BASE TOKEN
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

BASE, TOKEN = sys.argv[1], sys.argv[2]
MODELS = {"Patient": Patient, "Observation": Observation, "MedicationAdministration": MedicationAdministration, "QuestionnaireResponse": QuestionnaireResponse}


def get(path_or_url, token=TOKEN):
    url = path_or_url if path_or_url.startswith("http") else BASE + path_or_url
    request = urllib.request.Request(url, headers={"accept": "application/fhir+json", **({"authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request) as response:
            status, body, kind = response.status, response.read(), response.headers["content-type"]
    except urllib.error.HTTPError as error:
        status, body, kind = error.code, error.read(), error.headers["content-type"]
    assert kind.startswith("application/fhir+json"), (url, kind)
    return status, json.loads(body)


def search(resource_type, count):
    """Every resource of a search, following next links; no resource twice."""
    ids, resources, url = [], [], f"/fhir/r4/{resource_type}?_count={count}"
    while url:
        status, bundle = get(url)
        assert status == 200, bundle
        Bundle.model_validate(bundle)
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            MODELS[resource_type].model_validate(resource)
            assert resource["id"] not in ids, f"{resource_type}/{resource['id']} repeated across pages"
            ids.append(resource["id"])
            resources.append(resource)
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    return ids, resources


status, statement = get("/fhir/r4/metadata", token=None)
assert status == 200
CapabilityStatement.model_validate(statement)
counts = {}
for resource_type in MODELS:
    small, resources = search(resource_type, 7)
    whole, _ = search(resource_type, 500)
    assert sorted(small) == sorted(whole), f"{resource_type}: paging by 7 skipped or added resources"
    assert small, f"the demo clinic has no {resource_type}"
    for resource in resources[:25]:
        status, read = get(f"/fhir/r4/{resource_type}/{resource['id']}")
        assert status == 200 and read == resource, (read, resource)
        MODELS[resource_type].model_validate(read)
    counts[resource_type] = len(small)

observations = search("Observation", 500)[1]
phq9 = [o for o in observations if any(c["code"] == "44261-6" for c in o["code"]["coding"])]
status, bundle = get("/fhir/r4/Observation?_count=500&code=http://loinc.org|44261-6")
assert len(bundle.get("entry", [])) == len(phq9), "the LOINC search finds the PHQ-9 observations"
for path, code in [("/fhir/r4/Patient/00000000-0000-0000-0000-000000000000", 404), ("/fhir/r4/Observation?date=soon", 400)]:
    status, outcome = get(path)
    assert status == code, (path, status)
    OperationOutcome.model_validate(outcome)
# Every definition as a Questionnaire, read back by its id and found by its canonical url.
status, bundle = get("/fhir/r4/Questionnaire")
assert status == 200, bundle
Bundle.model_validate(bundle)
questionnaires = [entry["resource"] for entry in bundle["entry"]]
assert len(questionnaires) == 11, [q["id"] for q in questionnaires]
# The demo's depression and PTSD patients: MADRS and PCL-5 observations, found by code.
for code in ["madrs", "pcl5"]:
    status, bundle = get(f"/fhir/r4/Observation?_count=500&code={code}")
    found = bundle.get("entry", [])
    assert status == 200 and found, (code, status)
    assert all(e["resource"]["code"]["coding"][-1]["code"] == code for e in found), code
for questionnaire in questionnaires:
    Questionnaire.model_validate(questionnaire)
    status, read = get(f"/fhir/r4/Questionnaire/{questionnaire['id']}")
    assert status == 200 and read == questionnaire, read
    status, found = get(f"/fhir/r4/Questionnaire?url={urllib.parse.quote(questionnaire['url'], safe='')}&version={questionnaire['version']}")
    assert [e["resource"]["id"] for e in found["entry"]] == [questionnaire["id"]], found
counts["Questionnaire"] = len(questionnaires)
# Each response answers a questionnaire served here, and its Observation names it.
canonical = {f"{q['url']}|{q['version']}": q for q in questionnaires}
responses = search("QuestionnaireResponse", 500)[1]
observed = {o["id"]: o for o in observations}
for response in responses:
    questionnaire = canonical[response["questionnaire"]]
    links = {i["linkId"] for i in questionnaire["item"]}
    assert all(item["linkId"] in links for item in response["item"]), response
    assert observed[response["id"]]["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{response['id']}"}]
status, outcome = get("/fhir/r4/Patient", token=None)
assert status == 401
OperationOutcome.model_validate(outcome)
print("fhir: CapabilityStatement, " + ", ".join(f"{n} {t}" for t, n in counts.items()) + " and OperationOutcomes valid under fhir.resources R4B; paging by 7 equals one page of 500")
