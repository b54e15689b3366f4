"""Architecture graphs: the reference one traced from model.py, one for any checkpoint, and a plain-words diff.

`reference_graph(config)` does not describe LLaMA a second time: it builds the model of model.py on the meta
device (no memory) and traces its forward pass with torch.fx. Modules (embedding, norms, linears) become nodes
with attributes read from the module objects; the functions model.py calls (rope tables, apply_rope,
causal_attention, silu, the residual adds and the SwiGLU product) become nodes too; edges are the traced data
flow with reshapes and tuple unpacking collapsed away.

`graph_from_inventory(shapes, traits)` builds a graph in the same vocabulary from canonical tensor names and
shapes plus what tensors cannot tell (norm kind, activation, parallel block, …). A test checks that a LLaMA
inventory gives exactly the traced graph, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import operator
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from reference_impl import model as M


@dataclass(frozen=True)
class Node:
    name: str  # HF module path for modules ("model.layers.0.self_attn.q_proj"), path.kind for functions
    kind: str  # input, embedding, rope_tables, rmsnorm, layernorm, linear, rope, attention, activation,
    #            multiply, residual_add, lm_head, output, unknown
    attrs: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]  # (producer, consumer), sorted

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)


# ------------------------------------------------------------------------------------------ reference graph
FUNCTION_KINDS = {
    M.rope_tables: "rope_tables",
    M.apply_rope: "rope",
    M.causal_attention: "attention",
    F.silu: "activation",
    operator.mul: "multiply",
    operator.add: "residual_add",
}
KIND_NAMES = {
    "rope_tables": "rotary_emb",
    "rope": "rope",
    "attention": "attention",
    "activation": "act_fn",
    "multiply": "gate_mul",
    "residual_add": "residual_add",
}


class _Tracer(fx.Tracer):
    def __init__(self):
        super().__init__(autowrap_functions=(M.rope_tables, M.apply_rope, M.causal_attention))

    def is_leaf_module(self, module: nn.Module, qualname: str) -> bool:
        return isinstance(module, M.RMSNorm) or super().is_leaf_module(module, qualname)


def _module_attrs(name: str, mod: nn.Module, cfg: M.LlamaConfig) -> tuple[str, dict]:
    if isinstance(mod, nn.Embedding):
        return "embedding", {"num_embeddings": mod.num_embeddings, "embedding_dim": mod.embedding_dim, "scale": 1.0}
    if isinstance(mod, M.RMSNorm):
        return "rmsnorm", {"dim": mod.weight.shape[0], "eps": mod.eps, "offset": 0.0, "bias": False}
    if isinstance(mod, nn.Linear):
        attrs = {"in_features": mod.in_features, "out_features": mod.out_features, "bias": mod.bias is not None}
        if name == "lm_head":
            return "lm_head", {**attrs, "tied": cfg.tie_word_embeddings, "softcap": None}
        return "linear", attrs
    raise TypeError(f"no graph vocabulary for module {name} ({type(mod).__name__})")


def _function_attrs(kind: str, owner: nn.Module, cfg: M.LlamaConfig) -> dict:
    if kind == "rope_tables":
        return {"head_dim": cfg.head_dim, "rope_theta": cfg.rope_theta, "rope_scaling": cfg.rope_scaling}
    if kind == "rope":
        return {"head_dim": owner.head_dim, "rotary_fraction": 1.0}
    if kind == "attention":
        return {
            "num_heads": owner.n_heads,
            "num_kv_heads": owner.n_kv_heads,
            "head_dim": owner.head_dim,
            "causal": True,
            "sliding_window": owner.sliding_window,
            "position": "rope",
        }
    if kind == "activation":
        return {"fn": cfg.hidden_act}
    return {}


def reference_graph(config: M.LlamaConfig, as_llama: bool = True) -> Graph:
    """Trace model.py's Llama for this config (on the meta device) into a Graph.

    With as_llama (the default) the choices that make a config "LLaMA plus something" are reset to LLaMA's —
    silu, no projection biases, no sliding window — keeping sizes, RoPE, eps and tying, so a diff against a
    Qwen2 or Gemma inventory names what differs from LLaMA. as_llama=False traces the config exactly.
    """
    if as_llama:
        config = replace(
            config, hidden_act="silu", attention_bias=False, o_proj_bias=False, mlp_bias=False, sliding_window=None
        )
    with torch.device("meta"):
        model = M.Llama(config)
    tracer = _Tracer()
    traced = tracer.trace(model)
    modules = dict(model.named_modules())
    kept: dict[fx.Node, str] = {}
    nodes: list[Node] = []
    seen: dict[str, int] = defaultdict(int)
    for n in traced.nodes:
        if n.op == "placeholder":
            kept[n] = "input_ids"
            nodes.append(Node("input_ids", "input", {}))
        elif n.op == "output":
            kept[n] = "logits"
            nodes.append(Node("logits", "output", {}))
        elif n.op == "call_module":
            kind, attrs = _module_attrs(n.target, modules[n.target], config)
            kept[n] = n.target
            nodes.append(Node(n.target, kind, attrs))
        elif n.op == "call_function" and n.target in FUNCTION_KINDS:
            kind = FUNCTION_KINDS[n.target]
            stack = n.meta.get("nn_module_stack") or {}
            owner_path = list(stack.values())[-1][0] if stack else ""
            base = f"{owner_path}.{KIND_NAMES[kind]}" if owner_path else KIND_NAMES[kind]
            name = base if seen[base] == 0 else f"{base}_{seen[base]}"
            seen[base] += 1
            kept[n] = name
            nodes.append(Node(name, kind, _function_attrs(kind, modules[owner_path], config)))
    edges = set()
    for n, name in kept.items():
        for src in _kept_sources(n, kept):
            edges.add((src, name))
    return Graph(tuple(nodes), tuple(sorted(edges)))


def _kept_sources(n: fx.Node, kept: Mapping[fx.Node, str]) -> set[str]:
    """Nearest kept producers of n's inputs, looking through reshapes, dtype casts and tuple unpacking.

    Method calls (`.to(dtype)`, `.transpose`) and getattr/getitem follow only the tensor they act on, so that
    reading `x.dtype` does not count as data flowing from x.
    """
    out: set[str] = set()
    for arg in n.all_input_nodes:
        stack = [arg]
        while stack:
            a = stack.pop()
            if a in kept:
                out.add(kept[a])
            elif a.op == "call_method" or (a.op == "call_function" and a.target in (getattr, operator.getitem)):
                first = a.args[0]
                stack.extend([first] if isinstance(first, fx.Node) else [])
            else:
                stack.extend(a.all_input_nodes)
    return out


# ------------------------------------------------------------------------------------- graph of a checkpoint
LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")
# Per-layer tensors the graph knows, by module path inside the layer (HF names; Qwen3/OLMo2 q_norm/k_norm and
# Gemma2 pre/post feed-forward norms keep their family's HF names after normalization).
LAYER_NORMS = (
    "input_layernorm",
    "post_attention_layernorm",
    "pre_feedforward_layernorm",
    "post_feedforward_layernorm",
    "self_attn.q_norm",
    "self_attn.k_norm",
)
LAYER_LINEARS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


def _trait(traits: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        if traits.get(k) is not None:
            return traits[k]
    return default


def graph_from_inventory(shapes: Mapping[str, tuple[int, ...]], traits: Mapping[str, Any]) -> Graph:
    """Describe a checkpoint from canonical tensor names and shapes plus traits tensors cannot show.

    traits (all optional; HF config names are accepted too, so `{**arch_values, **traits}` works): norm
    ("rmsnorm" | "layernorm"), norm_offset (Gemma's 1 + w: True or the offset), norm_eps / rms_norm_eps,
    activation / hidden_activation / hidden_act, parallel_block, positions ("rope" | "alibi" | "learned") or
    alibi=True, partial_rotary_factor, num_attention_heads, num_key_value_heads, head_dim, rope_theta,
    rope_scaling / rope_parameters, sliding_window, tie_word_embeddings, embedding_scale (True: sqrt(hidden)),
    logit_softcapping. Unknown values stay None and are not compared. Post-norms are read from tensor names
    (Gemma2 HF names, or the canonical `post_attention_output_layernorm`). Tensors with no role in this
    vocabulary become `unknown` nodes, so they show up in the diff.
    """
    shapes = {k: tuple(v) for k, v in shapes.items()}
    vocab, hidden = shapes.get("model.embed_tokens.weight", (None, None))
    norm_kind = _trait(traits, "norm", default="rmsnorm")
    eps = _trait(traits, "norm_eps", "rms_norm_eps", "layer_norm_eps")
    offset = float(_trait(traits, "norm_offset", default=0.0) or 0.0)
    heads = _trait(traits, "num_attention_heads")
    head_dim = _trait(traits, "head_dim")
    if head_dim is None and heads and hidden:
        head_dim = hidden // heads
    kv_heads = _trait(traits, "num_key_value_heads", default=heads)
    positions = _trait(traits, "positions", default="alibi" if _trait(traits, "alibi") else "rope")
    if "model.embed_positions.weight" in shapes:
        positions = "learned"
    activation = _trait(traits, "activation", "hidden_activation", "hidden_act", default="silu")
    scale = _trait(traits, "embedding_scale", default=1.0)
    if isinstance(scale, bool):  # Gemma multiplies embeddings by sqrt(hidden_size)
        scale = float(hidden) ** 0.5 if scale and hidden else 1.0
    layers: dict[int, set[str]] = defaultdict(set)
    for name in shapes:
        m = LAYER.match(name)
        if m:
            layers[int(m.group(1))].add(f"{m.group(2)}.{m.group(3)}")
    used: set[str] = set()
    nodes: list[Node] = [Node("input_ids", "input", {})]
    edges: set[tuple[str, str]] = set()

    def add(name: str, kind: str, attrs: dict, *inputs: str | None) -> str:
        nodes.append(Node(name, kind, attrs))
        edges.update((i, name) for i in inputs if i)
        return name

    def norm(path: str, x: str) -> str:
        used.update({path + ".weight", path + ".bias"} & shapes.keys())
        return add(
            path,
            norm_kind,
            {"dim": shapes[path + ".weight"][0], "eps": eps, "offset": offset, "bias": path + ".bias" in shapes},
            x,
        )

    def linear(path: str, x: str | None, kind: str = "linear", **extra: Any) -> str | None:
        if path + ".weight" not in shapes:
            return None
        out_f, in_f = shapes[path + ".weight"]
        used.update({path + ".weight", path + ".bias"} & shapes.keys())
        return add(
            path, kind, {"in_features": in_f, "out_features": out_f, "bias": path + ".bias" in shapes, **extra}, x
        )

    rope_tables = None
    if positions == "rope":
        theta, scaling = None, None
        if any(traits.get(k) is not None for k in ("rope_theta", "rope_scaling", "rope_parameters")):
            theta, scaling = M.rope_settings(traits)
        rope_tables = add(
            "rotary_emb",
            "rope_tables",
            {"head_dim": head_dim, "rope_theta": theta, "rope_scaling": scaling},
            "input_ids",
        )
    used.add("model.embed_tokens.weight")
    x = add(
        "model.embed_tokens",
        "embedding",
        {"num_embeddings": vocab, "embedding_dim": hidden, "scale": float(scale)},
        "input_ids",
    )
    if positions == "learned":
        used.add("model.embed_positions.weight")
        pos = add(
            "model.embed_positions",
            "position_embedding",
            {"num_positions": shapes["model.embed_positions.weight"][0]},
            "input_ids",
        )
        x = add("model.embed_add", "residual_add", {}, x, pos)
    parallel = bool(_trait(traits, "parallel_block", default=False))
    for i in sorted(layers):
        p, have = f"model.layers.{i}", layers[i]
        ln1 = norm(f"{p}.input_layernorm", x) if "input_layernorm.weight" in have else x
        q, k = linear(f"{p}.self_attn.q_proj", ln1), linear(f"{p}.self_attn.k_proj", ln1)
        v = linear(f"{p}.self_attn.v_proj", ln1)
        if "self_attn.q_norm.weight" in have:
            q = norm(f"{p}.self_attn.q_norm", q)
        if "self_attn.k_norm.weight" in have:
            k = norm(f"{p}.self_attn.k_norm", k)
        qk = (q, k)
        if rope_tables:
            r = add(
                f"{p}.self_attn.rope",
                "rope",
                {"head_dim": head_dim, "rotary_fraction": float(_trait(traits, "partial_rotary_factor", default=1.0))},
                q,
                k,
                rope_tables,
            )
            qk = (r, r)
        attn = add(
            f"{p}.self_attn.attention",
            "attention",
            {
                "num_heads": heads,
                "num_kv_heads": kv_heads,
                "head_dim": head_dim,
                "causal": True,
                "sliding_window": _trait(traits, "sliding_window"),
                "position": positions,
            },
            *qk,
            v,
        )
        o = linear(f"{p}.self_attn.o_proj", attn)
        # Attention-output norm: canonical name, or Gemma2's HF name (its MLP pre-norm is then pre_feedforward_*).
        gemma2_names = "pre_feedforward_layernorm.weight" in have
        attn_out = (
            "post_attention_output_layernorm"
            if "post_attention_output_layernorm.weight" in have
            else "post_attention_layernorm"
            if gemma2_names
            else None
        )
        mlp_norm = "pre_feedforward_layernorm" if gemma2_names else "post_attention_layernorm"
        if attn_out and f"{attn_out}.weight" in have:
            o = norm(f"{p}.{attn_out}", o)
        h = add(f"{p}.residual_add", "residual_add", {}, x, o)
        mlp_src = x if parallel else h
        ln2 = norm(f"{p}.{mlp_norm}", mlp_src) if f"{mlp_norm}.weight" in have else (ln1 if parallel else h)
        gate, up = linear(f"{p}.mlp.gate_proj", ln2), linear(f"{p}.mlp.up_proj", ln2)
        act = add(f"{p}.mlp.act_fn", "activation", {"fn": None if activation == "unknown" else activation}, gate or up)
        hidden_act = add(f"{p}.mlp.gate_mul", "multiply", {}, act, up) if gate else act
        down = linear(f"{p}.mlp.down_proj", hidden_act)
        if "post_feedforward_layernorm.weight" in have:
            down = norm(f"{p}.post_feedforward_layernorm", down)
        x = add(f"{p}.residual_add_1", "residual_add", {}, h, down)
    x = norm("model.norm", x) if "model.norm.weight" in shapes else x
    head_attrs = {"tied": _trait(traits, "tie_word_embeddings"), "softcap": _trait(traits, "logit_softcapping")}
    head = linear("lm_head", x, kind="lm_head", **head_attrs)
    if head is None:  # a tied head may be absent from the file
        head = add("lm_head", "lm_head", {"in_features": hidden, "out_features": vocab, "bias": False, **head_attrs}, x)
    add("logits", "output", {}, head)
    for name in sorted(set(shapes) - used):  # no role here: kept, with its shape, for the diff to name
        add(name, "unknown", {"shape": shapes[name]})
    return Graph(tuple(nodes), tuple(sorted(edges)))


# ---------------------------------------------------------------------------------------------------- diff
LAYER_NODE = re.compile(r"^model\.layers\.(\d+)\.(.+)$")
SIZE_ATTRS = (
    "in_features",
    "out_features",
    "dim",
    "num_embeddings",
    "embedding_dim",
    "num_heads",
    "num_kv_heads",
    "head_dim",
    "shape",
)
# Extra per-layer nodes with a known meaning: (nodes, phrase). Checked before the generic "adds …".
KNOWN_EXTRAS = (
    (
        {"self_attn.q_norm", "self_attn.k_norm"},
        "adds q_norm/k_norm (queries and keys normalized per head, Qwen3/OLMo2 style)",
    ),
    (
        {"post_attention_output_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"},
        "adds norms on the attention and MLP outputs before the residual adds (Gemma2/OLMo2-style post-norms)",
    ),
)
# Reference nodes absent from a checkpoint with a known meaning.
KNOWN_MISSING = (
    ({"mlp.gate_proj", "mlp.gate_mul"}, "MLP is not gated (no gate_proj) where LLaMA uses SwiGLU"),
    ({"input_layernorm"}, "no norm before attention"),
    ({"post_attention_layernorm"}, "no norm before the MLP"),
)
SHORT = {
    "self_attn.q_proj": "q",
    "self_attn.k_proj": "k",
    "self_attn.v_proj": "v",
    "self_attn.o_proj": "o",
    "mlp.gate_proj": "gate",
    "mlp.up_proj": "up",
    "mlp.down_proj": "down",
}


NORM_KINDS = {"rmsnorm", "layernorm"}


def _name_in(template: str, layers: set[int | None]) -> str:
    layer = min((x for x in layers if x is not None), default=None)
    return template if layer is None else f"model.layers.{layer}.{template}"


def _template(name: str) -> tuple[str, int | None]:
    m = LAYER_NODE.match(name)
    return (m.group(2), int(m.group(1))) if m else (name, None)


def _where(layers: set[int], all_layers: set[int]) -> str:
    if not layers or layers == all_layers:
        return ""
    listed = sorted(layers)
    return ("layer " if len(listed) == 1 else "layers ") + ", ".join(map(str, listed)) + ": "


def _count_layers(g: Graph) -> set[int]:
    return {layer for n in g.nodes for _, layer in [_template(n.name)] if layer is not None}


def _first(g: Graph, kind: str) -> Node | None:
    return next((n for n in g.nodes if n.kind == kind), None)


def diff(reference: Graph, other: Graph) -> list[str]:
    """Architecture differences of `other` from `reference`, in plain words, sorted; [] when identical.

    Per-layer findings are grouped: a difference in every layer is said once, otherwise the layers are listed.
    Values a graph does not know (None) are never reported as differences.
    """
    out: set[str] = set()
    ref_layers, oth_layers = _count_layers(reference), _count_layers(other)
    if len(ref_layers) != len(oth_layers):
        out.add(f"{len(oth_layers)} layers vs {len(ref_layers)} in the reference")
    sizes_differ = _global_sizes(reference, other, out)

    ref_by = {n.name: n for n in reference.nodes}
    oth_by = {n.name: n for n in other.nodes}
    common_layers = ref_layers & oth_layers
    extra: dict[str, set[int | None]] = defaultdict(set)
    missing: dict[str, set[int | None]] = defaultdict(set)
    for name, _node in oth_by.items():
        t, layer = _template(name)
        if name not in ref_by and (layer is None or layer in common_layers):
            extra[t].add(layer)
    for name in ref_by:
        t, layer = _template(name)
        if name not in oth_by and (layer is None or layer in common_layers):
            missing[t].add(layer)
    structural = bool(missing) or any(oth_by[_name_in(t, extra[t])].kind != "unknown" for t in extra)
    _node_set_phrases(extra, missing, oth_by, common_layers, out)

    grouped: dict[tuple[str, str, Any, Any], set[int]] = defaultdict(set)
    for name in sorted(ref_by.keys() & oth_by.keys()):
        r, o = ref_by[name], oth_by[name]
        t, layer = _template(name)
        if r.kind != o.kind:
            grouped[(t, "kind", o.kind, r.kind)].add(layer)
            if not {r.kind, o.kind} <= NORM_KINDS:
                continue
        for attr in sorted(r.attrs.keys() | o.attrs.keys()):
            rv, ov = r.attrs.get(attr), o.attrs.get(attr)
            if rv is None and ov is None or rv == ov:
                continue
            if (rv is None or ov is None) and attr not in ("rope_scaling", "sliding_window", "softcap"):
                continue  # unknown on one side
            if attr in SIZE_ATTRS and sizes_differ:
                continue  # already said as a model-wide size
            grouped[(t, attr, _freeze(ov), _freeze(rv))].add(layer)
    _attr_phrases(grouped, common_layers, out)

    if not structural:  # otherwise the added/missing nodes already explain the rewiring
        _edge_phrases(reference, other, common_layers, out)
    return sorted(out)


def _freeze(v: Any) -> Any:
    return tuple(sorted(v.items())) if isinstance(v, Mapping) else v


def _global_sizes(reference: Graph, other: Graph, out: set[str]) -> bool:
    checks = [
        ("vocabulary size", "embedding", "num_embeddings"),
        ("hidden size", "embedding", "embedding_dim"),
        ("attention heads", "attention", "num_heads"),
        ("key/value heads", "attention", "num_kv_heads"),
        ("head_dim", "attention", "head_dim"),
    ]
    found = False
    for label, kind, attr in checks:
        r, o = _first(reference, kind), _first(other, kind)
        rv, ov = (r.attrs.get(attr) if r else None), (o.attrs.get(attr) if o else None)
        if rv is not None and ov is not None and rv != ov:
            out.add(f"{label} {ov} vs {rv} in the reference")
            found = True
    ri = next((n for n in reference.nodes if n.name.endswith("mlp.gate_proj")), None)
    oi = next((n for n in other.nodes if n.name.endswith("mlp.gate_proj")), None)
    if ri and oi and ri.attrs["out_features"] != oi.attrs["out_features"]:
        out.add(f"intermediate size {oi.attrs['out_features']} vs {ri.attrs['out_features']} in the reference")
        found = True
    return found


def _node_set_phrases(extra, missing, oth_by, common_layers, out: set[str]) -> None:
    for names, phrase in KNOWN_EXTRAS:
        present = [t for t in names if t in extra]
        if present:
            layers = set().union(*(extra.pop(t) for t in present))
            out.add(_where(layers, common_layers) + phrase)
    for names, phrase in KNOWN_MISSING:
        present = [t for t in names if t in missing]
        if present:
            layers = set().union(*(missing.pop(t) for t in present))
            out.add(_where({x for x in layers if x is not None}, common_layers) + phrase)
    if "rotary_emb" in missing:
        attn = next((n for n in oth_by.values() if n.kind == "attention"), None)
        how = {"alibi": "ALiBi position biases", "learned": "learned absolute position embeddings (GPT-2 style)"}.get(
            attn.attrs.get("position") if attn else None, "no position encoding"
        )
        out.add(f"uses {how} where LLaMA uses rotary embeddings")
        for t in ("rotary_emb", "self_attn.rope"):
            missing.pop(t, None)
        for t in ("model.embed_positions", "model.embed_add"):
            extra.pop(t, None)
    for t, layers in sorted(extra.items()):
        node_layers = {x for x in layers if x is not None}
        kind = next((n.kind for n in oth_by.values() if _template(n.name)[0] == t), "unknown")
        if kind == "unknown":
            if node_layers and node_layers != common_layers:
                for layer in sorted(node_layers):
                    shape = oth_by[f"model.layers.{layer}.{t}"].attrs["shape"]
                    out.add(f"layer {layer} has an extra tensor model.layers.{layer}.{t} {list(shape)}")
            else:
                shape = next(n.attrs["shape"] for n in oth_by.values() if _template(n.name)[0] == t)
                scope = " in every layer" if node_layers else ""
                out.add(f"has an extra tensor {t.replace('model.layers.', '')} {list(shape)}{scope}")
        else:
            out.add(_where(node_layers, common_layers) + f"adds {t} ({kind})")
    for t, layers in sorted(missing.items()):
        node_layers = {x for x in layers if x is not None}
        out.add(_where(node_layers, common_layers) + f"has no {t} where LLaMA has one")


def _attr_phrases(grouped, common_layers, out: set[str]) -> None:
    bias_on: dict[frozenset, set[str]] = defaultdict(set)
    bias_off: dict[frozenset, set[str]] = defaultdict(set)
    for (t, attr, ov, rv), layers in sorted(grouped.items(), key=str):
        where = _where({x for x in layers if x is not None}, common_layers)
        key = frozenset(x for x in layers if x is not None)
        if attr == "kind" and {ov, rv} == {"layernorm", "rmsnorm"}:
            out.add(
                where
                + (
                    "uses LayerNorm where LLaMA uses RMSNorm"
                    if ov == "layernorm"
                    else "uses RMSNorm where the reference uses LayerNorm"
                )
            )
        elif attr == "kind":
            out.add(where + f"{t} is {ov} where LLaMA has {rv}")
        elif attr == "bias" and t in SHORT:
            (bias_on if ov else bias_off)[key].add(t)
        elif attr == "bias" and t == "lm_head":
            out.add("output head has bias" if ov else "output head has no bias")
        elif attr == "bias":
            out.add(where + (f"{t} has bias" if ov else f"{t} has no bias"))
        elif attr == "position":
            continue  # said with the missing rotary nodes
        elif attr == "offset":
            out.add(where + f"norms scale by ({ov:g} + weight) (Gemma style) where LLaMA scales by weight")
        elif attr == "fn":
            out.add(where + f"activation {ov} where LLaMA uses {rv}")
        elif attr == "eps":
            out.add(f"norm eps {ov} vs {rv} in the reference")
        elif attr == "tied":
            out.add(
                "output head tied to the embedding where the reference has a separate lm_head"
                if ov
                else "separate lm_head where the reference ties it to the embedding"
            )
        elif attr == "sliding_window":
            out.add(
                f"sliding-window attention ({ov} positions)"
                if ov
                else f"full causal attention where the reference uses a sliding window of {rv}"
            )
        elif attr == "rope_scaling":
            out.add(f"rope scaling {dict(ov) if ov else None} vs {dict(rv) if rv else None} in the reference")
        elif attr == "softcap":
            out.add(f"soft-caps logits at {ov}" if ov else "no logit soft-capping where the reference has it")
        elif attr == "rotary_fraction":
            out.add(f"applies rotary embeddings to a fraction {ov:g} of each head where LLaMA rotates all of it")
        elif attr == "scale":
            out.add(f"embeddings scaled by {ov:g} where LLaMA does not scale them")
        else:
            out.add(where + f"{t} {attr} {ov} vs {rv} in the reference")
    for phrasebook, suffix in ((bias_on, "bias"), (bias_off, "no bias")):
        for layers, ts in phrasebook.items():
            names = "/".join(SHORT[t] for t in SHORT if t in ts)
            noun = "projection has" if len(ts) == 1 else "projections have"
            out.add(_where(set(layers), common_layers) + f"{names} {noun} {suffix}")


def _edge_phrases(reference: Graph, other: Graph, common_layers, out: set[str]) -> None:
    shared = {_template(n.name)[0] for n in reference.nodes} & {_template(n.name)[0] for n in other.nodes}

    def templated(g: Graph) -> dict[tuple[str, str], set[int]]:
        res: dict[tuple[str, str], set[int]] = defaultdict(set)
        for a, b in g.edges:
            (ta, la), (tb, lb) = _template(a), _template(b)
            if ta not in shared or tb not in shared:
                continue
            # Edges into the first layer / out of the last are one edge each, whatever the layer count.
            layer = None if la is None or lb is None else lb
            if layer is None or layer in common_layers:
                res[(ta, tb)].add(layer)
        return res

    ref_e, oth_e = templated(reference), templated(other)
    new_edges = [(a, b) for a, b in oth_e if (a, b) not in ref_e]
    mlp_norms = ("post_attention_layernorm", "pre_feedforward_layernorm")
    if any(
        b in mlp_norms and a != "residual_add" or (a, b) == ("input_layernorm", "mlp.gate_proj") for a, b in new_edges
    ):
        out.add(
            "attention and MLP read the same block input (parallel block, GPT-J/Falcon style) where LLaMA "
            "runs them one after the other"
        )
        return
    for (a, b), layers in sorted(oth_e.items()):
        if (a, b) not in ref_e:
            out.add(_where({x for x in layers if x is not None}, common_layers) + f"data flows {a} → {b}, not in LLaMA")
    for (a, b), layers in sorted(ref_e.items()):
        if (a, b) not in oth_e:
            out.add(_where({x for x in layers if x is not None}, common_layers) + f"no data flow {a} → {b} as in LLaMA")
