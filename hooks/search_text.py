r"""Math as plain text for search previews: ``\(\lambda\theta_{t-1}\)`` becomes ``λθ_t−1``.

The browser renders a page's math with KaTeX, but the search index holds the page's text, TeX
included. Search results would show ``\(\lambda\theta_{t-1}\)``; this turns each formula into
readable text (Greek letters and symbols as Unicode, commands and braces dropped), so both the
preview reads well and a search for "λ" finds it.
"""

from __future__ import annotations

import re

SYMBOLS = {
    **{
        name: chr(code)
        for name, code in {
            "alpha": 0x3B1, "beta": 0x3B2, "gamma": 0x3B3, "delta": 0x3B4, "epsilon": 0x3B5,
            "zeta": 0x3B6, "eta": 0x3B7, "theta": 0x3B8, "iota": 0x3B9, "kappa": 0x3BA,
            "lambda": 0x3BB, "mu": 0x3BC, "nu": 0x3BD, "xi": 0x3BE, "pi": 0x3C0, "rho": 0x3C1,
            "sigma": 0x3C3, "tau": 0x3C4, "phi": 0x3C6, "chi": 0x3C7, "psi": 0x3C8,
            "omega": 0x3C9, "Gamma": 0x393, "Delta": 0x394, "Theta": 0x398, "Lambda": 0x39B,
            "Sigma": 0x3A3, "Phi": 0x3A6, "Psi": 0x3A8, "Omega": 0x3A9,
        }.items()
    },  # fmt: skip
    "varepsilon": "ε", "varphi": "φ", "ell": "ℓ", "partial": "∂", "nabla": "∇",
    "cdot": "·", "times": "×", "odot": "⊙", "otimes": "⊗", "pm": "±", "le": "≤", "leq": "≤",
    "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "approx": "≈", "sim": "~", "propto": "∝",
    "in": "∈", "to": "→", "rightarrow": "→", "leftarrow": "←", "infty": "∞", "sum": "Σ",
    "prod": "Π", "sqrt": "√", "top": "ᵀ", "ldots": "…", "dots": "…", "cdots": "⋯",
    "hat": "", "bar": "", "tilde": "", "vec": "", "mathbb": "", "mathcal": "", "mathrm": "",
    "mid": "|", "lvert": "|", "rvert": "|", "lVert": "‖", "rVert": "‖", "|": "‖",
}  # fmt: skip
_SPACING = re.compile(
    r"\\(?:(?:left|right)(?![a-z])|[bB]ig+[lr]?|quad|qquad|displaystyle|textstyle|[,;:! ])"
)
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{\w+\*?\}")
_STYLE = re.compile(
    r"\\(?:mathcal|mathrm|mathbf|mathbb|boldsymbol|operatorname|text|textrm|hat|bar|tilde)"
    r"\{([^{}]*)\}"
)
_ROOT = re.compile(r"\\sqrt\{([^{}]*)\}")
_FRACTION = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")
_SCRIPT = re.compile(r"([_^])\{([^{}]*)\}")
_COMMAND = re.compile(r"\\([A-Za-z]+|\|)")
# \(...\) and \[...\] as arithmatex marks up prose; $$...$$ and $...$ as docstrings in listings
_MATH = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]|\$\$(.+?)\$\$|\$([^$]{1,300}?)\$", re.S)


def tex_to_text(tex: str) -> str:
    """A readable plain-text version of a TeX formula."""
    text = _ENVIRONMENT.sub(" ", tex).replace("\\\\", "; ").replace("&amp;", "")
    text = re.sub(r"&(?![a-z]+;)", "", text).replace("\\{", "\0").replace("\\}", "\1")
    text = _STYLE.sub(r"\1", _SPACING.sub(" ", text))
    for _ in range(4):  # innermost braces first: scripts, then fractions
        text = _SCRIPT.sub(lambda m: m[1] + (m[2] if len(m[2]) == 1 else f"({m[2]})"), text)
        text = _ROOT.sub(r"√(\1)", text)
        text = _FRACTION.sub(r"(\1)/(\2)", text)
    text = _COMMAND.sub(lambda match: SYMBOLS.get(match[1], match[1]), text)
    text = text.replace("^ᵀ", "ᵀ").replace("{", "").replace("}", "").replace("-", "−")
    text = text.replace("\0", "{").replace("\1", "}")
    return re.sub(r"\s+", " ", text).strip()


def plain_math(text: str) -> str:
    r"""Replace every formula in ``text`` (``\(...\)``, ``\[...\]``, ``$$...$$``, ``$...$``)."""
    return _MATH.sub(lambda match: tex_to_text(next(g for g in match.groups() if g)), text)
