"""Image-policy admission plugin for Keel, in Python (componentize-py, world `admission-plugin`).

Denies a Pod any of whose containers or init containers uses an image that does not start
with one of the configured `allowedPrefixes`; a `null` configuration (or one without
`allowedPrefixes`) allows every image.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.admission import Denial, Mutation, Request, Steps, Verdict
from wit_world.imports import host
from wit_world.imports.types import PluginError


def allowed_prefixes() -> tuple[str, ...] | None:
    config = json.loads(host.config())
    prefixes = None if config is None else config.get("allowedPrefixes")
    if prefixes is not None and not (
        isinstance(prefixes, list) and all(isinstance(p, str) for p in prefixes)
    ):
        raise ValueError("allowedPrefixes must be a list of strings")
    return None if prefixes is None else tuple(prefixes)


def check_images(request: Request) -> Denial | None:
    if request.group != "" or request.kind != "Pod" or request.object is None:
        return None
    prefixes = allowed_prefixes()
    if prefixes is None:
        return None
    spec = json.loads(request.object).get("spec") or {}
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        name, image = container.get("name", ""), container.get("image")
        if isinstance(image, str) and not image.startswith(prefixes):
            return Denial(
                code=403,
                reason="Forbidden",
                message=f'container "{name}" uses image "{image}": '
                f"not under an allowed prefix ({', '.join(prefixes)})",
            )
    return None


class Admission(exports.Admission):
    def describe(self) -> Steps:
        # Validate only: the host never calls `mutate`.
        return Steps(mutates=False, validates=True)

    def mutate(self, request: Request) -> Mutation:
        return Mutation(patch=None, warnings=[])

    def validate(self, request: Request) -> Verdict:
        host.log(
            host.Level.DEBUG,
            f"validate {request.operation.name.lower()} {request.kind} "
            f"{request.namespace}/{request.name}",
        )
        try:
            denial = check_images(request)
        except (ValueError, TypeError, AttributeError) as e:
            # Malformed config or object: an error (the host applies the failure policy),
            # not an uncaught exception, which would trap the instance.
            raise Err(PluginError(f"image policy: {e}"))
        return Verdict(denied=denial, warnings=[], status_updates=[])
