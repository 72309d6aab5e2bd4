"""A strict offline check of Kubernetes objects against the API's types, as the Kubernetes Python
client (Debian's python3-kubernetes) models them: every field must be one the type has, with a
value of its type, and every required field present. (kubectl's client-side dry run needs an
API server for discovery; this needs none.)"""

import re

import kubernetes.client as kc

# apiVersion and kind -> the client's model. The client (1.22's API) predates autoscaling/v2,
# which is autoscaling/v2beta2 made stable with the same fields.
MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "Service"): "V1Service",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2beta2HorizontalPodAutoscaler",
}


def _check(value, type_name, path, errors):
    if value is None:
        return
    inner = re.fullmatch(r"list\[(.+)\]", type_name)
    if inner:
        if not isinstance(value, list):
            return errors.append(f"{path}: expected a list, got {value!r}")
        for i, v in enumerate(value):
            _check(v, inner.group(1), f"{path}[{i}]", errors)
        return
    inner = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if inner:
        if not isinstance(value, dict):
            return errors.append(f"{path}: expected a map, got {value!r}")
        for k, v in value.items():
            _check(v, inner.group(1), f"{path}.{k}", errors)
        return
    scalar = {"str": (str, int, float), "int": (int,), "float": (int, float), "bool": (bool,),
              "datetime": (str,)}
    if type_name == "object":
        return  # int-or-string and free-form fields
    if type_name in scalar:
        ok = isinstance(value, scalar[type_name]) and not (
            type_name in ("int", "float", "str") and isinstance(value, bool))
        if not ok:
            errors.append(f"{path}: expected {type_name}, got {value!r}")
        return
    model = getattr(kc, type_name)
    if not isinstance(value, dict):
        return errors.append(f"{path}: expected a {type_name} object, got {value!r}")
    by_json = {j: attr for attr, j in model.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json:
            errors.append(f"{path}.{key}: no such field in {type_name}")
        else:
            _check(v, model.openapi_types[by_json[key]], f"{path}.{key}", errors)


def _required(value, type_name):
    """The client's own constructors refuse a missing required field (ValueError)."""
    try:
        kc.ApiClient()._ApiClient__deserialize(value, type_name)
    except (ValueError, TypeError) as e:
        return [f"{type_name}: {e}"]
    return []


def errors_of(obj):
    """What is wrong with one object (a dict from YAML); empty when it is valid."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in MODELS:
        return [f"{key}: no schema known here (add it to MODELS)"]
    name = f"{obj['kind']}/{obj.get('metadata', {}).get('name')}"
    errors = []
    _check(obj, MODELS[key], name, errors)
    return errors or _required(obj, MODELS[key])
