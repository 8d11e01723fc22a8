"""MLflow prompts (MLflow 2.21+ / 3.x), read through the Store's registry API.

A prompt is a registered model tagged `mlflow.prompt.is_prompt = 'true'`; each version is a model
version whose tags hold the template (`mlflow.prompt.text`) and its type (`_mlflow_prompt_type`:
"text", or "chat" with the messages as JSON). The commit message is the version's description.
This module turns them into what MLflow's search_prompts / load_prompt report
(mlflow/prompt/registry_utils.py: model_version_to_prompt_version), on every backend.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .base import Store
from .entities import TAG_IS_PROMPT, ModelVersion, RegisteredModel, is_prompt

TAG_PROMPT_TEXT = "mlflow.prompt.text"
TAG_PROMPT_TYPE = "_mlflow_prompt_type"
PROMPT_TYPE_CHAT = "chat"
#: Version tags MLflow keeps for itself and leaves out of PromptVersion.tags (`_is_reserved_tag`).
RESERVED_VERSION_TAGS = frozenset(
    {
        TAG_IS_PROMPT,
        TAG_PROMPT_TEXT,
        TAG_PROMPT_TYPE,
        "_mlflow_prompt_response_format",
        "_mlflow_prompt_model_config",
    }
)
#: MLflow's PROMPT_TEMPLATE_VARIABLE_PATTERN: `{{ name }}` or `{{ a.b }}`.
_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}")


@dataclass(slots=True)
class PromptVersion:
    name: str
    version: int
    #: The text, or for a chat prompt the messages ({"role": ..., "content": ...}).
    template: str | list[dict]
    is_text_prompt: bool
    commit_message: str | None
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def variables(self) -> list[str]:
        # A str exactly when is_text_prompt (see `prompt_version`).
        text = self.template if isinstance(self.template, str) else json.dumps(self.template)
        return sorted(set(_VARIABLE.findall(text)))


@dataclass(slots=True)
class Prompt:
    name: str
    description: str | None
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    #: The prompt's tags without the is-a-prompt marker, as search_prompts reports them.
    tags: dict[str, str] = field(default_factory=dict)
    #: alias -> version number
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None
    workspace: str = "default"


def prompts(store: Store) -> list[Prompt]:
    """Every prompt of the store's registry, by name (registered models that are not prompts are
    left out, as MLflow's search_prompts leaves them out)."""
    found = [
        _prompt(rm) for rm in store.registered_models(include_prompts=True) if is_prompt(rm.tags)
    ]
    return sorted(found, key=lambda p: (p.name, p.workspace))


def prompt_versions(store: Store, name: str, workspace: str | None = None) -> list[PromptVersion]:
    """The versions of one prompt, newest first (as load_prompt reads each one)."""
    return [
        prompt_version(mv)
        for mv in store.model_versions(name, workspace)
        if TAG_PROMPT_TEXT in mv.tags
    ]


def prompt_version(mv: ModelVersion) -> PromptVersion:
    text = mv.tags.get(TAG_PROMPT_TEXT, "")
    template: str | list[dict] = text
    is_text = mv.tags.get(TAG_PROMPT_TYPE) != PROMPT_TYPE_CHAT
    if not is_text:
        template = _chat_messages(text)
        # A chat template that is not a list of messages is shown as the text it is.
        is_text = isinstance(template, str)
    return PromptVersion(
        name=mv.name,
        version=int(mv.version),
        template=template,
        is_text_prompt=is_text,
        commit_message=mv.description,
        creation_timestamp=mv.creation_timestamp,
        last_updated_timestamp=mv.last_updated_timestamp,
        tags={k: v for k, v in mv.tags.items() if k not in RESERVED_VERSION_TAGS},
        aliases=sorted(mv.aliases),
    )


def template_lines(pv: PromptVersion) -> list[str]:
    """The template as lines of plain text: a chat template as one `role: content` per message
    (a multi-line content keeps its lines, indented under its role)."""
    if isinstance(pv.template, str):  # is_text_prompt (see `prompt_version`)
        return pv.template.split("\n")
    lines = []
    for message in pv.template:
        role = str(message.get("role", "?"))
        content = message.get("content", "")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        first, *rest = content.split("\n")
        lines.append(f"{role}: {first}")
        lines.extend(" " * (len(role) + 2) + line for line in rest)
    return lines


def _chat_messages(text: str) -> list[dict] | str:
    try:
        messages = json.loads(text)
    except ValueError:
        return text
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return text
    return messages


def _prompt(rm: RegisteredModel) -> Prompt:
    versions = [int(mv.version) for mv in rm.latest_versions if mv.version.isdigit()]
    return Prompt(
        name=rm.name,
        description=rm.description,
        creation_timestamp=rm.creation_timestamp,
        last_updated_timestamp=rm.last_updated_timestamp,
        tags={k: v for k, v in rm.tags.items() if k != TAG_IS_PROMPT},
        aliases={alias: int(v) for alias, v in rm.aliases.items() if str(v).isdigit()},
        latest_version=max(versions, default=None),
        workspace=rm.workspace,
    )
