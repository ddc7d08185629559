"""Effort's SVD residual tuning: freeze each weight's principal subspace, train its residual one.

Yan et al., "Orthogonal Subspace Decomposition for Generalizable AI-Generated Image Detection"
(Effort), ICML 2025, https://arxiv.org/abs/2411.15633. Each target linear layer's weight is
split by SVD, ``W = U Σ Vᵀ``. The top ``n − k`` singular triplets (``n = min(out, in)``) form
the principal part ``W_principal = U_r Σ_r V_rᵀ``, frozen (a parameter with
``requires_grad=False``): it carries the pre-trained knowledge. The bottom ``k`` triplets form
the residual part, trained as its factors ``U_res``, ``Σ_res``, ``V_res``. The layer computes
``x (W_principal + U_res diag(Σ_res) V_resᵀ)ᵀ + b``, so at initialisation it equals the
pre-trained layer.

Two regularisers keep the residual where the paper wants it (:func:`svd_losses`):

- ``orthogonal``: the singular vectors stay orthonormal, the residual ones orthogonal to the
  frozen principal ones: ``‖ÛᵀÛ − I‖²_F + ‖V̂ᵀV̂ − I‖²_F`` with ``Û = [U_r, U_res]``. The
  ``U_rᵀU_r`` block is frozen and orthonormal by construction, so it is left out; what is
  computed is ``2‖U_rᵀU_res‖²_F + ‖U_resᵀU_res − I‖²_F`` (and the same for ``V``).
- ``singular``: the effective weight keeps the pre-trained energy, ``|‖Ŵ‖²_F − ‖W‖²_F|``
  (``‖W‖²_F = Σ σᵢ²``), so training cannot grow or shrink the singular values at will. It is
  computed as ``|2⟨W_principal, R⟩ + ‖R‖²_F − Σ_residual σᵢ²|`` with ``R`` the residual
  weight: matrix-vector products only, and no difference of two large energies.

Both are averaged over the decomposed matrices. The paper adds them to the cross-entropy; the
official release trains on cross-entropy alone (both terms are commented out there: issues #9
and #20 of github.com/YZY-stack/Effort-AIGI-Detection), so their weights are the caller's
choice.

Defaults follow the paper's set-up for CLIP ViT-L/14: residual rank ``k = 1`` per matrix, in
the linear layers of every block's self-attention (query, key, value and output projections;
the MLPs stay as they are, frozen). 24 blocks × 4 matrices × (1024 + 1 + 1024) = 196,704
trainable values, the paper's "0.19M". timm fuses query, key and value into one ``attn.qkv``
linear; it is decomposed as three separate ``d × d`` blocks (``chunks=3``), as the paper
decomposes the three projections, so the count is the same. Biases stay frozen, as the rest of
the encoder.

The SVD runs in float64 and the factors are stored in the layer's dtype: in float32 the split
then reconstructs each weight within about 4e-9 (measured on ViT-Tiny and on 1024-wide random
matrices). A float32 SVD alone would also pass 1e-5, but only at about 3e-7 absolute (3e-6
relative to the largest weight) on 1024-wide matrices, so float64 buys margin at a one-off cost
(on one CPU thread: about 11–17 s for ViT-B/16, 75 s for ViT-L/14). On the ``meta`` device no
SVD runs: the layer gets tensors of the right shapes, so a net built on ``meta`` reports its
trainable count without weights (:func:`svd_trainable` gives the same number from a shape).

:func:`merge_svd_residual` folds every decomposed layer back into a plain ``nn.Linear`` holding
its current effective weight, for ONNX and safetensors export.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ATTENTION_LINEARS",
    "DEFAULT_RESIDUAL_RANK",
    "SVDResidualLinear",
    "apply_svd_residual",
    "attention_linears",
    "merge_svd_residual",
    "svd_losses",
    "svd_trainable",
]

DEFAULT_RESIDUAL_RANK = 1
"""Trainable singular triplets per decomposed matrix: Effort keeps all but the last one frozen."""

ATTENTION_LINEARS = ("qkv", "q", "k", "v", "proj", "q_proj", "k_proj", "v_proj", "out_proj")
"""Names of the self-attention linears (timm's fused ``qkv`` and ``proj``, and separate ones)."""


def attention_linears(name: str, linear: nn.Linear) -> bool:
    """Effort's default target: a linear inside a self-attention module (``…attn.qkv``, ``…attn.proj``)."""
    parts = name.split(".")
    return (
        len(parts) >= 2 and parts[-2] in ("attn", "self_attn", "attention") and parts[-1] in ATTENTION_LINEARS
    )


def _chunks_for(name: str, linear: nn.Linear) -> int:
    """A fused ``qkv`` projection is three matrices: decompose each on its own, as the paper does."""
    if name.split(".")[-1] == "qkv" and linear.out_features == 3 * linear.in_features:
        return 3
    return 1


def svd_trainable(linear_shape: tuple[int, int], rank: int = DEFAULT_RESIDUAL_RANK, chunks: int = 1) -> int:
    """Trainable values of one decomposed linear of weight shape ``(out, in)``: ``chunks × k (out/chunks + 1 + in)``."""
    out_features, in_features = linear_shape
    return chunks * rank * (out_features // chunks + 1 + in_features)


class SVDResidualLinear(nn.Module):
    """An ``nn.Linear`` split by SVD into a frozen principal part and a trainable residual (Effort).

    ``rank`` is the residual rank ``k`` per matrix (the trainable triplets); ``chunks`` splits the
    output rows into that many matrices decomposed separately (3 for a fused ``qkv``).
    """

    def __init__(self, linear: nn.Linear, rank: int = DEFAULT_RESIDUAL_RANK, chunks: int = 1) -> None:
        super().__init__()
        out_features, in_features = linear.weight.shape
        if out_features % chunks:
            raise ValueError(
                f"chunks={chunks} does not divide the {out_features} output features of a "
                f"{tuple(linear.weight.shape)} linear; expected a divisor (3 for a fused qkv, else 1)"
            )
        rows = out_features // chunks
        full_rank = min(rows, in_features)
        if not 0 < rank < full_rank:
            raise ValueError(
                f"SVD residual rank={rank} for a {rows}×{in_features} matrix; expected 1 ≤ rank < {full_rank} "
                f"(the residual rank, model.net.svd_rank; Effort uses 1)"
            )
        self.in_features, self.out_features = in_features, out_features
        self.rank, self.chunks = rank, chunks
        weight = linear.weight.detach()
        dtype, device = weight.dtype, weight.device
        keep = full_rank - rank
        if weight.is_meta:
            u = torch.empty(chunks, rows, full_rank, dtype=dtype, device=device)
            s = torch.empty(chunks, full_rank, dtype=dtype, device=device)
            vh = torch.empty(chunks, full_rank, in_features, dtype=dtype, device=device)
            principal = torch.empty_like(weight)
            residual_energy = torch.empty(chunks, dtype=dtype, device=device)
        else:
            blocks = weight.to(torch.float64).reshape(chunks, rows, in_features)
            u, s, vh = torch.linalg.svd(blocks, full_matrices=False)
            principal = (u[..., :keep] * s[:, None, :keep]) @ vh[:, :keep]
            principal = principal.reshape(out_features, in_features).to(dtype)
            residual_energy = s[:, keep:].square().sum(-1).to(dtype)
            u, s, vh = u.to(dtype), s.to(dtype), vh.to(dtype)
        # frozen: the principal part (a parameter that never trains, so a net's parameter total is
        # the pre-trained one plus the residual factors, as LoRA's is plus its adapters), and its
        # singular vectors for the orthogonality term (buffers: auxiliary, not part of the function)
        self.weight_principal = nn.Parameter(principal, requires_grad=False)
        self.register_buffer("u_principal", u[..., :keep].contiguous())
        self.register_buffer("v_principal", vh[:, :keep].transpose(1, 2).contiguous())
        self.register_buffer("residual_energy", residual_energy)
        # trainable: the residual factors, initialised to the bottom singular triplets
        self.u_residual = nn.Parameter(u[..., keep:].contiguous())
        self.s_residual = nn.Parameter(s[:, keep:].contiguous())
        self.v_residual = nn.Parameter(vh[:, keep:].transpose(1, 2).contiguous())
        if linear.bias is None:
            self.bias = None
        else:
            self.bias = nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    def residual_weight(self) -> torch.Tensor:
        """``U_res diag(Σ_res) V_resᵀ`` for every chunk, stacked as the ``(out, in)`` weight."""
        blocks = (self.u_residual * self.s_residual[:, None, :]) @ self.v_residual.transpose(1, 2)
        return blocks.reshape(self.out_features, self.in_features)

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight ``W_principal + U_res Σ_res V_resᵀ``."""
        return self.weight_principal + self.residual_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the residual as two thin products (as LoRA's adapter), never a materialised (out, in)
        # weight: autograd would keep one per layer and step, 400 MB for ViT-L/14's attention
        hidden = torch.einsum("...i,cik->...ck", x, self.v_residual) * self.s_residual
        residual = torch.einsum("...ck,crk->...cr", hidden, self.u_residual).flatten(-2)
        return F.linear(x, self.weight_principal, self.bias) + residual

    def losses(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This layer's (orthogonal, singular) terms, each averaged over its chunks."""
        eye = torch.eye(self.rank, dtype=self.u_residual.dtype, device=self.u_residual.device)
        orthogonal = self.u_residual.new_zeros(())
        for frozen, trained in ((self.u_principal, self.u_residual), (self.v_principal, self.v_residual)):
            cross = frozen.transpose(1, 2) @ trained
            gram = trained.transpose(1, 2) @ trained
            orthogonal = (
                orthogonal + 2 * cross.square().sum((1, 2)).mean() + (gram - eye).square().sum((1, 2)).mean()
            )
        # ‖W_p + R‖² − ‖W‖² = 2⟨W_p, R⟩ + ‖R‖² − Σ_{residual} σᵢ² (as ‖W_p‖² = Σ_{principal} σᵢ²):
        # matrix-vector products only, never the full weight, and no cancellation of large terms
        u, s, v = self.u_residual, self.s_residual, self.v_residual
        principal = self.weight_principal.reshape(self.chunks, -1, self.in_features)
        inner = ((principal @ v) * u).sum(1).mul(s).sum(-1)
        gram = (u.transpose(1, 2) @ u) * (v.transpose(1, 2) @ v)
        residual = (s[:, :, None] * gram * s[:, None, :]).sum((1, 2))
        singular = (2 * inner + residual - self.residual_energy).abs().mean()
        return orthogonal, singular

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` holding the current effective weight and bias (for export)."""
        linear = nn.Linear(
            self.in_features,
            self.out_features,
            bias=self.bias is not None,
            device=self.weight_principal.device,
            dtype=self.weight_principal.dtype,
        )
        with torch.no_grad():
            linear.weight.copy_(self.weight)
            if self.bias is not None:
                linear.bias.copy_(self.bias)
        linear.weight.requires_grad_(self.u_residual.requires_grad)
        if linear.bias is not None:
            linear.bias.requires_grad_(False)
        return linear

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"residual_rank={self.rank}, chunks={self.chunks}, bias={self.bias is not None}"
        )


def _replace(module: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, leaf, new)


def apply_svd_residual(
    module: nn.Module,
    rank: int | None = None,
    include: Callable[[str, nn.Linear], bool] | None = None,
) -> int:
    """Replace the target ``nn.Linear`` layers of ``module`` in place by :class:`SVDResidualLinear`.

    ``rank`` is the residual rank per matrix (default :data:`DEFAULT_RESIDUAL_RANK`, Effort's 1);
    ``include(name, linear)`` picks the layers (default :func:`attention_linears`: every
    self-attention linear; a fused ``qkv`` is decomposed as three matrices). Returns how many
    layers were replaced. Only the new residual factors are trainable: freeze the rest of
    ``module`` *before* calling this, or freeze everything but the residual factors after.
    """
    rank = DEFAULT_RESIDUAL_RANK if rank is None else rank
    include = attention_linears if include is None else include
    targets = [
        (name, child)
        for name, child in module.named_modules()
        if type(child) is nn.Linear and name and include(name, child)
    ]
    for name, linear in targets:
        _replace(module, name, SVDResidualLinear(linear, rank=rank, chunks=_chunks_for(name, linear)))
    return len(targets)


def svd_losses(module: nn.Module) -> dict[str, torch.Tensor]:
    """Effort's ``orthogonal`` and ``singular`` terms over every :class:`SVDResidualLinear` in ``module``, averaged over layers."""
    layers = [m for m in module.modules() if isinstance(m, SVDResidualLinear)]
    if not layers:
        raise ValueError(
            f"svd_losses found no SVDResidualLinear in a {type(module).__name__}; "
            "expected a net tuned with model.tuning=svd (apply_svd_residual first)"
        )
    terms = [layer.losses() for layer in layers]
    return {
        "orthogonal": torch.stack([t[0] for t in terms]).mean(),
        "singular": torch.stack([t[1] for t in terms]).mean(),
    }


def merge_svd_residual(module: nn.Module) -> int:
    """Replace every :class:`SVDResidualLinear` in ``module`` by a plain ``nn.Linear`` of its effective weight; returns how many."""
    targets = [(name, m) for name, m in module.named_modules() if name and isinstance(m, SVDResidualLinear)]
    for name, layer in targets:
        _replace(module, name, layer.merged())
    return len(targets)
