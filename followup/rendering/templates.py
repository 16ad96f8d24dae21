"""The owner's message templates under ``templates/``, rendered safely.

Where the files are and which exist is :mod:`followup.config.template_files`.  Templates
run in Jinja2's sandbox (owners edit them; they must not reach Python internals) with
strict undefined variables, so a typo fails ``followup check`` instead of sending
"Hi ," to a client.

SMS are rendered in an environment of their own whose ``finalize`` hook spells every
inserted value (``{{ ... }}``) in GSM-7 (:func:`followup.core.sms_encoding.transliterate`)
when ``[sms] transliterate`` is on: a client's name never switches a text to UCS-2.  The
template's own words are left as the owner wrote them (``check`` names any character
that forces UCS-2).
"""

from __future__ import annotations

import functools
import html
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from followup.config.template_files import LAYOUT_DIR, LAYOUT_FILES, PART_FILES, Part, TemplateFiles
from followup.core.sms_encoding import smart_encode, transliterate
from followup.exceptions import ConfigIssue, TemplateRenderError


class Namespace(dict[str, Any]):
    """A template variable group (``client``, ``session``...) that can name itself in errors."""

    def __init__(self, ns_name: str, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.ns_name = ns_name


class FriendlyUndefined(StrictUndefined):
    """StrictUndefined whose message says what the owner could have written instead."""

    @property
    def _undefined_message(self) -> str:
        obj = self._undefined_obj
        name = self._undefined_name
        if isinstance(obj, Namespace):
            return f"'{obj.ns_name}' has no '{name}' (it has: {', '.join(sorted(obj))})"
        message: str = super()._undefined_message
        return message


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class _Rendered(str):
    """Text already rendered (the SMS body handed to the layout): not transliterated again,
    so the owner's own wording passes through as written."""

    __slots__ = ()


def _gsm7_value(value: Any) -> Any:
    """Jinja ``finalize`` for SMS: inserted strings spelt in GSM-7; other values as they are."""
    if isinstance(value, str) and not isinstance(value, _Rendered):
        return transliterate(value)
    return value


def _autoescape(name: str | None) -> bool:
    return bool(name and name.endswith(".html.j2"))


_URL = re.compile(r"(https?://[^\s<]+[^\s<.,;:!?)\]'\"])")


def text_to_html(text: str) -> Markup:
    """Paragraphs (blank-line separated) with links, for emails whose template has no HTML."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(block.strip())
        linked = _URL.sub(r'<a href="\1">\1</a>', escaped)
        out.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return Markup("\n".join(out))  # noqa: S704 - every block was html.escape()d above


def _environment(root: Path, finalize: Any = None) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(root)),
        undefined=FriendlyUndefined,
        autoescape=_autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=finalize,
    )


class TemplateSet:
    """Renders the templates in ``files``; one per folder and setting (see :func:`renderer`).

    ``transliterate``: values inserted into SMS are spelt in GSM-7 (``[sms] transliterate``).
    """

    def __init__(self, files: TemplateFiles, transliterate: bool = True) -> None:
        self.files = files
        self.root = files.root
        self.smart_encoding = files.smart_encoding
        self.transliterate = transliterate
        self.env = _environment(files.root)
        self.sms_env = _environment(files.root, _gsm7_value) if transliterate else self.env

    def has(self, name: str, part: Part) -> bool:
        return self.files.has(name, part)

    def _pick(self, folder: str, filename: str, language: str) -> str:
        return self.files.pick(folder, filename, language)

    # --- rendering -------------------------------------------------------------

    def _render(self, template_name: str, context: dict[str, Any], env: SandboxedEnvironment | None = None) -> str:
        try:
            return (env or self.env).get_template(template_name).render(context)
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(
                ConfigIssue(
                    self._shown(exc.filename, template_name), exc.lineno, "", f"template syntax error: {exc.message}"
                )
            ) from None
        except TemplateError as exc:
            filename, line = self._template_frame(exc, template_name)
            raise TemplateRenderError(ConfigIssue(filename, line, "", _describe(exc))) from None

    def _shown(self, filename: str | None, template_name: str) -> str:
        path = Path(filename) if filename else self.root / template_name
        try:
            return str(path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def _template_frame(self, exc: BaseException, template_name: str) -> tuple[str, int | None]:
        # Jinja rewrites tracebacks so template code shows as frames of the .j2 file.
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith(".j2"):
                return self._shown(frame.filename, template_name), frame.lineno
        return self._shown(None, template_name), None

    def render_part(self, name: str, part: Part, language: str, context: dict[str, Any]) -> str:
        env = self.sms_env if part == "sms" else self.env
        return self._render(self._pick(name, PART_FILES[part], language), context, env)

    def _layout(self, kind: str, language: str, context: dict[str, Any], **extra: Any) -> str:
        env = self.sms_env if kind == "sms" else self.env
        return self._render(self._pick(LAYOUT_DIR, LAYOUT_FILES[kind], language), {**context, **extra}, env)

    def render_sms(self, name: str, language: str, context: dict[str, Any]) -> str:
        """The SMS text: the template in the SMS layout, line breaks squashed (see README,
        Templates), inserted values in GSM-7 when transliterating, look-alikes replaced
        when smart encoding is on."""
        body = _Rendered(_squash(self.render_part(name, "sms", language, context)))
        text = _squash(self._layout("sms", language, context, body=body))
        return smart_encode(text) if self.smart_encoding else text

    def render_email(self, name: str, language: str, context: dict[str, Any]) -> RenderedEmail:
        subject = " ".join(self.render_part(name, "subject", language, context).split())
        text_body = self.render_part(name, "text", language, context).strip()
        if self.has(name, "html"):
            html_body = Markup(self.render_part(name, "html", language, context))  # noqa: S704 - autoescaped
        else:
            html_body = text_to_html(text_body)
        text = self._layout("text", language, context, body=text_body, subject=subject).strip() + "\n"
        page = self._layout("html", language, context, body=html_body, subject=subject)
        return RenderedEmail(subject=subject, text=text, html=css_inline.inline(page))


def _squash(text: str) -> str:
    """SMS bodies: trim, and join the template's line breaks unless a blank line asks for one."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n".join(p for p in paragraphs if p)


def _describe(exc: TemplateError) -> str:
    message = exc.message or str(exc)
    if "is undefined" in message:
        return (
            f"{message} (variables: client, session, business, links, tip, campaign, step; "
            "see README, Template variables)"
        )
    return message


@functools.lru_cache(maxsize=64)
def renderer(files: TemplateFiles, transliterate: bool = True) -> TemplateSet:
    """The one :class:`TemplateSet` for a templates folder and setting, so compiled
    templates are reused (Jinja re-reads a file when it changes on disk)."""
    return TemplateSet(files, transliterate)
