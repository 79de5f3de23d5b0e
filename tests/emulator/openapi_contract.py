"""Validate JSON bodies against Stripe's OpenAPI subset (SPEC X1).

``contract.check(method, path_template, body)`` validates ``body`` against
the 200 response schema of that operation (or the error schema with
``status="default"``) using ``openapi_schema_validator.OAS30Validator`` with a
``referencing`` registry that resolves ``#/components/schemas/...``.

Stripe's ``anyOf`` + ``nullable`` convention is read as "or null". Strict mode
(the default) additionally forbids properties the schema does not
declare, so nothing outside Stripe's 2023-08-16 contract slips through.
"""

from __future__ import annotations

import copy
import json
import pathlib

from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

# Stripe's schema subset: the project's shared copy beside the checkout when there is one,
# else the identical copy kept with these tests (contract/SOURCE.md says where it comes from).
SHARED_SPEC = (pathlib.Path(__file__).resolve().parents[3] / "shared" / "stripe"
               / "openapi-subset-v2.json")
KEPT_SPEC = pathlib.Path(__file__).resolve().parent / "contract" / "openapi-subset-v2.json"
SPEC_PATH = SHARED_SPEC if SHARED_SPEC.exists() else KEPT_SPEC
BASE_URI = "urn:stripe-openapi-subset"


def _null_in_any_of(node):
    """Read Stripe's ``nullable: true`` as "or null" everywhere.

    Stripe writes "object or null" as ``{"anyOf": [...], "nullable": true}``
    and "one of these strings or null" as ``{"enum": [...], "nullable": true}``.
    ``OAS30Validator`` honours ``nullable`` only for ``type`` (OAS 3.0.3), so
    the null alternative is added explicitly. Stripe's live API sends null in
    exactly these places.
    """
    if isinstance(node, dict):
        if node.get("nullable") and "anyOf" in node and "type" not in node:
            node["anyOf"] = node["anyOf"] + [{"enum": [None]}]
        if node.get("nullable") and "enum" in node and None not in node["enum"]:
            node["enum"] = node["enum"] + [None]
        for value in node.values():
            _null_in_any_of(value)
    elif isinstance(node, list):
        for value in node:
            _null_in_any_of(value)


def _nullable_residue(error) -> bool:
    """A null that Stripe allows with ``nullable: true`` beside ``anyOf``/``enum`` (no
    ``type``), which OAS 3.0.3 validators reject; or an ``anyOf`` failing only so."""
    if error.instance is None and isinstance(error.schema, dict) \
            and error.schema.get("nullable") is True:
        return True
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        return any(all(_nullable_residue(sub) for sub in subs) for subs in branches.values())
    return False


def _forbid_extra(node):
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _forbid_extra(value)
    elif isinstance(node, list):
        for value in node:
            _forbid_extra(value)


def _leaves(error):
    """The innermost reasons of an ``anyOf`` failure (the useful ones)."""
    if not error.context:
        return [error]
    return [leaf for sub in error.context for leaf in _leaves(sub)]


def _describe(error) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    reasons = "; ".join(
        f"{'/'.join(str(p) for p in leaf.absolute_path)}: {leaf.message[:160]}"
        for leaf in _leaves(error)
    )
    return f"{where}: {reasons}"


class Contract:
    def __init__(self, strict: bool = True):
        self.spec = json.loads(SPEC_PATH.read_text())
        document = copy.deepcopy(self.spec)
        _null_in_any_of(document)
        if strict:
            _forbid_extra(document["components"])
            for path in document["paths"].values():
                for operation in path.values():
                    for response in operation["responses"].values():
                        _forbid_extra(response.get("content", {}))
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        self.registry = Registry().with_resource(BASE_URI, resource)
        self.checked: set[tuple[str, str]] = set()

    def operations(self) -> set[tuple[str, str]]:
        return {
            (method.upper(), path)
            for path, item in self.spec["paths"].items() for method in item
        }

    def _pointer(self, method: str, path: str, status: str) -> str:
        escaped = path.replace("~", "~0").replace("/", "~1")
        return (f"{BASE_URI}#/paths/{escaped}/{method.lower()}/responses/{status}"
                "/content/application~1json/schema")

    def errors(self, method: str, path: str, body, status: str = "200") -> list[str]:
        if path not in self.spec["paths"] or method.lower() not in self.spec["paths"][path]:
            raise KeyError(f"{method} {path} is not in the OpenAPI subset")
        validator = OAS30Validator({"$ref": self._pointer(method, path, status)},
                                   registry=self.registry)
        found = [_describe(error) for error in validator.iter_errors(body)]
        if status == "200":
            self.checked.add((method.upper(), path))
        return found

    def unadjusted_errors(self, method: str, path: str, body, status: str = "200") -> list[str]:
        """Errors of the spec read literally (OAS 3.0.3, as openapi-core does) that are
        NOT the ``nullable``-beside-``anyOf``/``enum`` residue; should be empty."""
        if not hasattr(self, "_raw_registry"):
            raw = Resource.from_contents(copy.deepcopy(self.spec), default_specification=DRAFT4)
            self._raw_registry = Registry().with_resource(BASE_URI, raw)
        validator = OAS30Validator({"$ref": self._pointer(method, path, status)},
                                   registry=self._raw_registry)
        return [_describe(error) for error in validator.iter_errors(body)
                if not _nullable_residue(error)]

    def check_object(self, obj: dict) -> None:
        """Validate an embedded object (e.g. an event's ``data.object``) by type."""
        name = obj["object"]
        validator = OAS30Validator({"$ref": f"{BASE_URI}#/components/schemas/{name}"},
                                   registry=self.registry)
        problems = [_describe(error) for error in validator.iter_errors(obj)]
        assert not problems, f"{name} breaks the contract:\n" + "\n".join(problems)

    def check(self, method: str, path: str, body, status: str = "200") -> None:
        if isinstance(body, (str, bytes)):
            body = json.loads(body)
        problems = self.errors(method, path, body, status)
        assert not problems, f"{method} {path} breaks the contract:\n" + "\n".join(problems)
