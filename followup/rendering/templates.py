"""The owner's message templates under ``templates/``, rendered safely.

Where the files are and which exist is :mod:`followup.config.template_files`.  Templates
run in Jinja2's sandbox (owners edit them; they must not reach Python internals) with
strict undefined variables, so a typo fails ``followup check`` instead of sending
"Hi ," to a client.

SMS are rendered in an environment of their own whose ``finalize`` hook spells every
inserted value (``{{ ... }}``) in GSM-7 (:func:`followup.core.sms_encoding.transliterate`)
when ``[sms] transliterate`` is on: a client's name never switches a text to UCS-2.  The
template's own words (and the clinic's words handed in as values: tips, labels, dates, see
:data:`Verbatim`) follow ``[sms] accents``: "strip" (the default) takes the accents GSM-7
lacks off the whole rendered text (``más`` -> ``mas``), "keep" leaves them as written
(``check`` names any character that forces UCS-2 and prices both choices).

Owners edit templates, so rendering is bounded as well as sandboxed (:class:`BoundedSandbox`):
``range`` yields at most :data:`MAX_RANGE` items; ``*``, ``**`` and ``+`` refuse results
longer than :data:`MAX_SEQUENCE` items or integers wider than :data:`MAX_INT_BITS` bits
(Jinja's ``intercepted_binops`` / ``call_binop``, as its sandbox documentation suggests);
calls and the width-taking filters refuse huge counts and widths; and a template's output
stops at :data:`MAX_OUTPUT` characters.  Each refusal is the usual ``file:line`` issue
(:class:`TemplateRenderError`), so ``followup check`` names it instead of using 5 GB of memory
or printing a traceback.
"""

from __future__ import annotations

import functools
import html
import os
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import css_inline
from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace as JinjaNamespace
from markupsafe import Markup

from followup.config.template_files import LAYOUT_DIR, LAYOUT_FILES, PART_FILES, Part, TemplateFiles
from followup.core.sms_encoding import analyse, smart_encode, strip_accents, transliterate
from followup.exceptions import ConfigIssue, TemplateRenderError

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values


class Namespace(dict[str, Any]):
    """A template variable group (``client``, ``session``...) that can name itself in errors.

    ``lazy`` values are made only when something reads them: the session's day, date and
    times are Babel formatting (about a sixth of the dispatcher's time per message in bench/,
    see bench/README.md) that most texts never show ("thanks for coming in today").  Reading
    one (``session.time``, ``session["time"]``) makes and keeps it; anything that looks at the
    whole group (iterating, ``len``, ``items()``, ``==``, an error listing the names it has)
    makes them all first, so the group looks exactly like a plain dict of every value, in
    the order given.  Each Namespace is one message's: nothing is shared between clients.
    """

    def __init__(self, ns_name: str, values: dict[str, Any], lazy: dict[str, Callable[[], Any]] | None = None) -> None:
        super().__init__(values)
        self.ns_name = ns_name
        self._lazy = lazy or {}
        self._order = (*values, *self._lazy) if lazy else ()

    def __missing__(self, key: str) -> Any:
        make = self._lazy.get(key)
        if make is None:
            raise KeyError(key)
        try:
            value = make()
        except (LookupError, TypeError) as exc:
            # Jinja's sandbox reads a missing key's LookupError/TypeError as "undefined":
            # a failure to make the value must not pass for a template typo.
            raise RuntimeError(f"{self.ns_name}.{key}: {exc!r}") from exc
        del self._lazy[key]
        super().__setitem__(key, value)
        return value

    def _fill(self) -> None:
        if self._lazy:
            for key in list(self._lazy):
                self.__missing__(key)
            values = {key: super(Namespace, self).__getitem__(key) for key in self._order}
            super().clear()
            super().update(values)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or key in self._lazy

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:  # self[key], not dict.get: it makes a lazy value
            return self[key]
        return default

    def __iter__(self) -> Iterator[str]:
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        return super().__len__() + len(self._lazy)

    def __eq__(self, other: object) -> bool:
        self._fill()
        if isinstance(other, Namespace):
            other._fill()
        return super().__eq__(other)

    __hash__ = None  # as dict's

    def __repr__(self) -> str:
        self._fill()
        return super().__repr__()

    def keys(self) -> dict_keys[str, Any]:
        self._fill()
        return super().keys()

    def values(self) -> dict_values[str, Any]:
        self._fill()
        return super().values()

    def items(self) -> dict_items[str, Any]:
        self._fill()
        return super().items()

    def copy(self) -> dict[str, Any]:
        self._fill()
        return dict(super().items())


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
    """Text already rendered (the SMS body handed to the layout), or the clinic's own words
    handed in as a value (a tip, a focus label, a date in the client's language): not
    transliterated as an inserted value, so it follows ``[sms] accents`` like the template's
    own words instead of always losing its accents."""

    __slots__ = ()


Verbatim = _Rendered  # for rendering.context: the clinic's own words, not client data


# ASCII characters transliterate() does not keep as they are (controls, the backtick): a
# value made only of other ASCII characters comes back unchanged, so it is not walked a
# character at a time in Python (about a tenth of compose() for an English SMS).
_ASCII_CHANGED = re.compile(
    "[" + re.escape("".join(ch for ch in map(chr, range(128)) if transliterate(ch) != ch)) + "]"
)


def _ucs2_value(value: Any) -> Any:
    """Jinja ``finalize`` for an SMS that is UCS-2 anyway: names keep their accents (``Ramón``),
    emoji and odd symbols still go as in :func:`_gsm7_value`."""
    if isinstance(value, str) and not isinstance(value, _Rendered):
        return transliterate(value, keep_letters=True)
    return value


def _gsm7_value(value: Any) -> Any:
    """Jinja ``finalize`` for SMS: inserted strings spelt in GSM-7; other values as they are."""
    if isinstance(value, str) and not isinstance(value, _Rendered):
        if value.isascii() and not _ASCII_CHANGED.search(value):
            return value
        return transliterate(value)
    return value


# --- bounds -----------------------------------------------------------------------------

MAX_RANGE = 10_000  # items one range() may yield
MAX_SEQUENCE = 100_000  # characters (or items) one operation or call may produce or take
MAX_INT_BITS = 4_096  # integers made by * and ** (10**1233 fits; 10**10**9 does not)
MAX_OUTPUT = 200_000  # characters one template may render (an email is a few thousand)

# Filters whose arguments after the value are sizes, widths or counts.
_SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "batch", "slice")
# %-format and str.format widths and precisions: "%*s", "%999999999s", "{:>999999999}".
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")


class TemplateLimitError(SecurityError):
    """A template asked for more than :class:`BoundedSandbox` allows."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _check_count(value: Any, what: str) -> None:
    if _is_int(value) and abs(value) > MAX_SEQUENCE:
        raise TemplateLimitError(f"{what} {value} is too large (templates may use up to {MAX_SEQUENCE:,})")
    size = _sized(value)
    if size is not None and size > MAX_SEQUENCE:
        raise TemplateLimitError(f"{what} of {size:,} characters is too long (limit {MAX_SEQUENCE:,})")


def _check_format(spec: Any) -> None:
    """Refuse format strings whose widths would build huge strings (``'%*s'``, ``'{:>9999999}'``)."""
    if not isinstance(spec, str):
        return
    widths = [w for m in _PERCENT_SPEC.finditer(spec) for w in m.groups() if w]
    widths += [w for m in _BRACE_SPEC.finditer(spec) for w in re.findall(r"\d+|\*", m.group(1))]
    for width in widths:
        if width == "*" or int(width) > MAX_SEQUENCE:
            raise TemplateLimitError(f"format width {width!r} is not allowed (at most {MAX_SEQUENCE:,})")


def bounded_range(*args: int) -> range:
    """``range`` for templates: at most :data:`MAX_RANGE` items."""
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise TemplateLimitError(f"range() of more than {MAX_RANGE:,} items is not allowed in templates")
    return numbers


class BoundedNamespace(JinjaNamespace):
    """``namespace()`` whose attributes cannot grow past :data:`MAX_SEQUENCE` (the one way a
    loop can carry a value out of itself, e.g. doubling a string each time round)."""

    def __setitem__(self, name: str, value: Any) -> None:
        _check_count(value, f"namespace value {name!r}")
        super().__setitem__(name, value)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    skip = 2 if getattr(function, "jinja_pass_arg", None) else 1  # (context,) value, then sizes

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[skip:], *kwargs.values()):
            _check_count(value, f"{name} argument")
        return function(*args, **kwargs)

    return bounded


def _bounded_format(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_format(value)
        return function(value, *args, **kwargs)

    return bounded


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, with the size of what a template can make bounded (see module doc)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = bounded_range
        self.globals["namespace"] = BoundedNamespace
        for name in _SIZED_FILTERS:
            self.filters[name] = _bounded_filter(name, self.filters[name])
        self.filters["format"] = _bounded_format(self.filters["format"])

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_product(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%":
            _check_format(left)
        result = super().call_binop(context, operator, left, right)
        if operator == "+":
            _check_count(result, "the result of +")
        return result

    def call(
        __self,  # noqa: N805 - Jinja's own signature (double underscores: no keyword clashes)
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if __obj is not bounded_range:  # range() names its own limit
            for value in (*args, *kwargs.values()):
                _check_count(value, "argument")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``'...'.format`` / ``format_map``: the format string's widths are checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)
        return wrapped


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"a product wider than {MAX_INT_BITS:,} bits is not allowed in templates")
        return
    for sequence, times in ((left, right), (right, left)):
        size = _sized(sequence)
        if size is not None and _is_int(times) and size * times > MAX_SEQUENCE:
            raise TemplateLimitError(
                f"repeating {size:,} items {times:,} times is too much (templates may make up to {MAX_SEQUENCE:,})"
            )


def _check_power(base: Any, exponent: Any) -> None:
    integers = _is_int(base) and _is_int(exponent) and abs(base) > 1 and exponent > 0
    if integers and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:  # a lower bound of its width
        raise TemplateLimitError(f"a power wider than {MAX_INT_BITS:,} bits is too large for a template")


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
    return BoundedSandbox(
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
        self._root = str(files.root)
        self.smart_encoding = files.smart_encoding
        self.transliterate = transliterate
        self.env = _environment(files.root)
        self.sms_env = _environment(files.root, _gsm7_value) if transliterate else self.env
        self.ucs2_env = _environment(files.root, _ucs2_value) if transliterate else self.env
        # This thread's lookups while pinned (see pinned()); None when not pinned.
        self._local = threading.local()

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within this block (this thread only), each template file is found, checked for
        changes on disk and prepared once: the dispatcher pins its templates for a run, as Jinja
        otherwise checks every file's mtime on every render and :meth:`_pick` looks for a
        language's file each time (four ``stat`` calls and a globals merge per SMS, about a
        third of rendering one in bench/).  An edit to a template is seen by the next block (the
        worker's next run), as before; other threads (the web preview) are not affected.
        Re-entrant: an inner block shares the outer one's lookups."""
        if getattr(self._local, "memo", None) is not None:
            yield
            return
        self._local.memo = {}
        try:
            yield
        finally:
            self._local.memo = None

    def _memo(self) -> dict[Any, Any] | None:
        memo: dict[Any, Any] | None = getattr(self._local, "memo", None)
        return memo

    def has(self, name: str, part: Part) -> bool:
        memo = self._memo()
        if memo is None:
            return self.files.has(name, part)
        key = ("has", name, part)
        found = memo.get(key)
        if found is None:
            found = memo[key] = self.files.has(name, part)
        return bool(found)

    def _pick(self, folder: str, filename: str, language: str) -> str:
        memo = self._memo()
        if memo is None:
            return self._find(folder, filename, language)
        key = ("pick", folder, filename, language)
        found = memo.get(key)
        if found is None:
            found = memo[key] = self._find(folder, filename, language)
        return str(found)

    def _find(self, folder: str, filename: str, language: str) -> str:
        # TemplateFiles.pick's choice (the language's file when there is one), with os.path on
        # a str root: its pathlib joins cost about 3% of dispatch (bench/run.py, two per SMS).
        localized = f"{folder}/{language}/{filename}"
        if os.path.isfile(os.path.join(self._root, localized)):
            return localized
        return f"{folder}/{filename}"

    def _template(self, env: SandboxedEnvironment, template_name: str) -> tuple[Template, dict[str, Any]]:
        """The compiled template and its globals as a plain dict (pinned: once per block)."""
        memo = self._memo()
        if memo is None:
            template = env.get_template(template_name)
            return template, dict(template.globals)
        key = (id(env), template_name)  # the environments live as long as this TemplateSet
        found = memo.get(key)
        if found is None:
            template = env.get_template(template_name)
            found = memo[key] = (template, dict(template.globals))
        return found

    # --- rendering -------------------------------------------------------------

    def _render(self, template_name: str, context: dict[str, Any], env: SandboxedEnvironment | None = None) -> str:
        try:
            return self._bounded_output(template_name, context, env or self.env)
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(
                ConfigIssue(
                    self._shown(exc.filename, template_name), exc.lineno, "", f"template syntax error: {exc.message}"
                )
            ) from None
        except TemplateError as exc:
            filename, line = self._template_frame(exc, template_name)
            raise TemplateRenderError(ConfigIssue(filename, line, "", _describe(exc))) from None
        except (ArithmeticError, LookupError, TypeError, ValueError, MemoryError, RecursionError) as exc:
            # Python's own errors inside a template (1/0, 2.0**99999, deep recursion): the
            # owner's mistake, told as file:line like any other, never a traceback.
            filename, line = self._template_frame(exc, template_name)
            raise TemplateRenderError(ConfigIssue(filename, line, "", f"{type(exc).__name__}: {exc}")) from None

    def _bounded_output(self, template_name: str, context: dict[str, Any], env: SandboxedEnvironment) -> str:
        """The template's text, produced piece by piece and stopped at :data:`MAX_OUTPUT`
        characters (a loop printing a long value 10,000 times never fills the memory)."""
        template, names = self._template(env, template_name)
        pieces: list[str] = []
        size = 0
        for piece in _generate(template, names, context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise TemplateRenderError(
                    ConfigIssue(
                        self._shown(template.filename, template_name),
                        None,
                        "",
                        f"renders more than {MAX_OUTPUT:,} characters (a loop or a repeated value that runs away?)",
                    )
                )
            pieces.append(piece)
        return "".join(pieces)

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

    def render_part(
        self, name: str, part: Part, language: str, context: dict[str, Any], env: SandboxedEnvironment | None = None
    ) -> str:
        env = env or (self.sms_env if part == "sms" else self.env)
        return self._render(self._pick(name, PART_FILES[part], language), context, env)

    def _layout(
        self, kind: str, language: str, context: dict[str, Any], env: SandboxedEnvironment | None = None, **extra: Any
    ) -> str:
        env = env or (self.sms_env if kind == "sms" else self.env)
        return self._render(self._pick(LAYOUT_DIR, LAYOUT_FILES[kind], language), {**context, **extra}, env)

    def render_sms(self, name: str, language: str, context: dict[str, Any], *, strip: bool = True) -> str:
        """The SMS text: the template in the SMS layout, line breaks squashed (see README,
        Templates), look-alikes replaced when smart encoding is on; with ``strip`` (``[sms]
        accents = "strip"``) the accents GSM-7 lacks are taken off every letter, the
        template's own words included.

        Inserted values (names) are spelt in GSM-7 when transliterating, and only when that
        keeps the SMS GSM-7: with ``[sms] accents = "keep"`` a text whose own words are
        UCS-2 anyway keeps ``Ramón`` as written (spelling it ``Ramon`` would save nothing)."""
        text = self._sms(name, language, context, self.sms_env, strip)
        if self.transliterate and not strip and analyse(text).encoding != "GSM-7":
            return self._sms(name, language, context, self.ucs2_env, strip)
        return text

    def _sms(self, name: str, language: str, context: dict[str, Any], env: SandboxedEnvironment, strip: bool) -> str:
        body = _Rendered(_squash(self.render_part(name, "sms", language, context, env)))
        text = _squash(self._layout("sms", language, context, env, body=body))
        return _finish_sms(text, self.smart_encoding, strip)

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


def _generate(template: Template, names: dict[str, Any], context: dict[str, Any]) -> Iterator[str]:
    """``template.generate(context)``, given the template's globals as a plain dict (``names``).

    Jinja's own generate() merges the template's globals (a ChainMap) into the variables and
    then lists them again for the context, per render: about a sixth of rendering an SMS.  This
    builds the same context (the same variables, the same globals) from a dict merge, and
    handles an error as generate() does (the traceback rewritten to the template's lines)."""
    ctx = template.environment.context_class(
        template.environment, {**names, **context}, template.name, template.blocks, globals=names
    )
    try:
        yield from template.root_render_func(ctx)
    except Exception:
        yield template.environment.handle_exception()


class _SmsSpelling(dict[int, str]):
    """A ``str.translate`` table for :func:`smart_encode` then :func:`strip_accents` (both
    map each character on its own), filled a character at a time as texts need it."""

    LIMIT = 4096  # distinct characters kept (the clinic's alphabet is a few dozen)

    def __init__(self, smart: bool, strip: bool) -> None:
        super().__init__({code: chr(code) for code in range(128)})  # both leave ASCII as it is
        self.smart = smart
        self.strip = strip

    def __missing__(self, code: int) -> str:
        spelt = smart_encode(chr(code)) if self.smart else chr(code)
        spelt = strip_accents(spelt) if self.strip else spelt
        if len(self) < self.LIMIT:
            self[code] = spelt
        return spelt


_SMS_SPELLINGS = {(smart, strip): _SmsSpelling(smart, strip) for smart in (False, True) for strip in (False, True)}


def _finish_sms(text: str, smart: bool, strip: bool) -> str:
    """``strip_accents(smart_encode(text))``, each when asked for.  Both walk the text a
    character at a time in Python (about a tenth of the dispatcher's time per message in
    bench/); one ``str.translate`` through a table of characters does the same in C.  The
    table holds characters only, never a text: nothing of one client's reaches another."""
    if text.isascii() or not (smart or strip):
        return text
    return text.translate(_SMS_SPELLINGS[smart, strip])


_BLANK_LINE = re.compile(r"\n\s*\n")


def _squash(text: str) -> str:
    """SMS bodies: trim, and join the template's line breaks unless a blank line asks for one."""
    text = text.strip()
    if text.count("\n") < 2:  # no blank line possible: one paragraph (most texts; no regex)
        return " ".join(text.split())
    paragraphs = [" ".join(p.split()) for p in _BLANK_LINE.split(text)]
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
