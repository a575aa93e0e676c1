#!/usr/bin/env python3
"""Mutation check: does verification catch plausible mistakes in the mathematics?

Applies each single mutation below to a scratch copy of the repository (the committed tree),
builds the `crhn` command line, runs `crhn verify` (100 cases per proposition), and, when verify
stays green, the F# property suite (Crhn.Properties.Tests). A mutant is killed when verify exits
non-zero or a property fails; it survives when both pass. Not run by CI (about 30 minutes on
2 cores).

    python3 tools/mutate.py                 # every mutation
    python3 tools/mutate.py rsra-inverted   # only the named ones
    python3 tools/mutate.py --list          # the list, without running anything
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

# (id, file, text as committed, text of the mutant, what the mutant gets wrong)
MUTATIONS = [
    ("procrustes-v-ut", "Crhn.Core.fs/Math/Procrustes.fs",
     "        u.MatMul(false, false, vt)",
     "        vt.MatMul(true, true, u)",
     "Procrustes returns V·Uᵀ instead of U·Vᵀ"),
    ("lsra-w-r", "Crhn.Core.fs/Models/Sra.fs",
     "        weights.[l].CopyInPlace((Procrustes.rotationTo b target).ApplyRightTransposed weights.[l])",
     "        weights.[l].CopyInPlace(weights.[l].MatMul(false, false, (Procrustes.rotationTo b target).ToDense()))",
     "LSRA applies W·R instead of W·Rᵀ"),
    ("rhn-backward-w", "Crhn.Core.fs/Models/Sra.fs",
     "            r.[l] <- v.[l + 1].MatMul(false, false, weights.[l])",
     "            r.[l] <- v.[l + 1].MatMul(false, true, weights.[l])",
     "the RHN's backward pass multiplies by Wᵀ instead of W"),
    ("energy-sign", "Crhn.Core.fs/Math/Rhn.fs",
     "        Array.fold (-) (Array.reduce (+) gs) couplings",
     "        Array.fold (+) (Array.reduce (+) gs) couplings",
     "the multi-layer energy adds its couplings instead of subtracting them"),
    ("g-halved", "Crhn.Core.fs/Math/Rhn.fs",
     "        (xlogx (h + 1.0) + xlogx (h * -1.0 + 1.0)) * 0.5",
     "        (xlogx (h + 1.0) + xlogx (h * -1.0 + 1.0)) * 0.25",
     "G(h) halved"),
    ("bias-dropped", "Crhn.Core.fs/Math/Rhn.fs",
     "        -coupling - (h1 * b).Sum([| 1 |]) - (h0 * c).Sum([| 1 |])",
     "        -coupling - (h0 * c).Sum([| 1 |])",
     "the hidden bias term dropped from the one-layer energy"),
    ("energy-coupling", "Crhn.Core.fs/Math/Rhn.fs",
     "        let coupling = (h1 * h0.MatMul(w, false, true)).Sum([| 1 |])",
     "        let coupling = (h1 * h0.MatMul(w, false, true)).Sum([| 1 |]) * 0.5",
     "the one-layer energy's coupling halved"),
    ("tanh-derivative", "Crhn.Core.fs/Math/Activation.fs",
     "        | Tanh beta -> Activation.Scale beta ((Activation.Scale beta u).Tanh().Square() * -1.0 + 1.0)",
     "        | Tanh beta -> Activation.Scale beta ((Activation.Scale beta u).Tanh() * -1.0 + 1.0)",
     "H_Φ of tanh is β(1 − tanh) instead of β(1 − tanh²)"),
    ("autodiff-tanh", "Crhn.Core.fs/Engine/Cpu/Kernels.Elementwise.fs",
     "                if op = UnaryOp.Tanh then TensorPrimitives.Subtract('T.One, tr, t) else TensorPrimitives.Subtract(ys, tr, t)",
     "                if op = UnaryOp.Tanh then TensorPrimitives.Subtract('T.One, ys, t) else TensorPrimitives.Subtract(ys, tr, t)",
     "reverse mode's tanh rule is 1 − y instead of 1 − y²"),
    ("power-one-step", "Crhn.Core.fs/Math/Spectral.fs",
     "        for _ in 1 .. max 1 iterations do",
     "        for _ in 1 .. 1 do",
     "power iteration runs one step whatever it is asked"),
    ("jacq-without-h", "Crhn.Core.fs/Models/IterativeNet.fs",
     "        let w = (Tensor.Constant(u).MatMul(m, false, true) * h).MatMul(m)",
     "        let w = (Tensor.Constant(u).MatMul(m, false, true)).MatMul(m)",
     "JacQ's ‖J_T‖ estimate leaves out H_Φ"),
    ("jvp-without-h", "Crhn.Core.fs/Math/Energy.Hopfield.fs",
     "        (u.MatMul(m, false, true) * act.Hessian(v.MatMul(m, false, true))).MatMul(m)",
     "        (u.MatMul(m, false, true)).MatMul(m)",
     "the Hopfield map's JVP leaves out H_Φ"),
    ("step-without-alpha", "Crhn.Core.fs/Math/Energy.Hopfield.fs",
     "    let step (act: Activation) (alpha: float) (m: Tensor) (v: Tensor) = v * (1.0 - alpha) + apply act m v * alpha",
     "    let step (act: Activation) (alpha: float) (m: Tensor) (v: Tensor) = v * (1.0 - alpha) + apply act m v",
     "the Hopfield step adds T(v) without α"),
    ("wtw-error", "Crhn.Core.fs/Math/Spectral.fs",
     "        let gram = if wide then w.MatMul(false, true, w) else w.MatMul(true, false, w)",
     "        let gram = if wide then w.MatMul(true, false, w) else w.MatMul(false, true, w)",
     "the semi-orthogonality error of a wide W measures WᵀW − I"),
    ("newton-schulz-removed", "Crhn.Core.fs/Models/Sra.fs",
     "        for w in weights do w.CopyInPlace(Spectral.newtonSchulzStep w)",
     "        for _ in weights do ()",
     "re-orthogonalisation does nothing"),
    ("sign-ste-zeroed", "Crhn.Core.fs/Engine/Op.Pointwise.fs",
     "        member x.Sign() = unaryOp \"sign\" UnaryOp.Sign x (fun g _ -> g.Binary(BinaryOp.Mul, x.Primal.InRangeMask(-1.0, 1.0)))",
     "        member x.Sign() = unaryOp \"sign\" UnaryOp.Sign x (fun g _ -> g.MulScalar 0.0)",
     "the sign's straight-through gradient is zero"),
    ("projector-rank", "Crhn.Core.fs/Math/Spectral.fs",
     "    let rowSpaceProjector (w: RawTensor) = w.MatMul(true, false, w)",
     "    let rowSpaceProjector (w: RawTensor) = Init.identity w w.Shape.[1]",
     "the row-space projector has full rank (the identity)"),
    ("adam-bias-correction", "Crhn.Core.fs/Engine/Optim.fs",
     "        let step = lr / (1.0 - Math.Pow(b1, float t))",
     "        let step = lr",
     "Adam without its first-moment bias correction"),
    ("conv-transpose-gradient", "Crhn.Core.fs/Engine/Op.Conv.fs",
     "                    (fun gy -> gy.Conv2d(pw, g)) (fun gy -> gy.Conv2dBackwardWeight(px, weight.Shape, g))",
     "                    (fun gy -> gy.Conv2d(pw, g).MulScalar(-1.0)) (fun gy -> gy.Conv2dBackwardWeight(px, weight.Shape, g))",
     "conv_transpose2d's input gradient flipped in sign"),
    ("thin-procrustes-gemm", "Crhn.Core.fs/Math/Procrustes.fs",
     "        let t = fa.MatMul(true, false, a.MatMul(false, true, b).MatMul(false, false, fb))",
     "        let t = fa.MatMul(true, false, b.MatMul(false, true, a).MatMul(false, false, fb))",
     "the thin Procrustes solve forms B·Aᵀ for A·Bᵀ (GEMM flags)"),
    ("dense-rotation-transpose", "Crhn.Core.fs/Math/Procrustes.fs",
     "        | Dense q -> q.MatMul(false, false, w)",
     "        | Dense q -> q.MatMul(true, false, w)",
     "a dense rotation applied on the left as Qᵀ"),
    ("rsra-inverted", "Crhn.Core.fs/Models/Sra.fs",
     "        weights.[l].CopyInPlace((Procrustes.rotation pre.[l] v.[l + 1]).ApplyLeft weights.[l])",
     "        weights.[l].CopyInPlace((Procrustes.rotation pre.[l] v.[l + 1]).ToDense().MatMul(true, false, weights.[l]))",
     "RSRA rotates by Qᵀ·W instead of Q·W"),
    ("sigmoid-lipschitz", "Crhn.Core.fs/Math/Activation.fs",
     "        | Sigmoid beta -> beta / 4.0",
     "        | Sigmoid beta -> beta / 2.0",
     "sigmoid's L_Φ is β/2 instead of β/4"),
    ("rhn-down-w", "Crhn.Core.fs/Math/Rhn.fs",
     "    let down (w: Tensor) (c: Tensor option) (v: Tensor) = (addBias (v.MatMul w) c).Tanh()",
     "    let down (w: Tensor) (c: Tensor option) (v: Tensor) = (addBias (v.MatMul(w, false, true)) c).Tanh()",
     "the backward half-step multiplies by Wᵀ instead of W"),
    ("relax-one-sided", "Crhn.Core.fs/Models/Sra.fs",
     "            let above = if l < weights.Length then Some(hs.[l + 1].MatMul(false, false, weights.[l])) else None",
     "            let above: RawTensor option = None",
     "relaxation updates each layer from below only"),
    ("newton-schulz-coefficient", "Crhn.Core.fs/Math/Spectral.fs",
     "        w.MulScalar(1.5).Binary(BinaryOp.Sub, correction.MulScalar 0.5)",
     "        w.MulScalar(1.4).Binary(BinaryOp.Sub, correction.MulScalar 0.5)",
     "Newton–Schulz with 1.4W for 1.5W"),
    ("hopfield-energy-half", "Crhn.Core.fs/Math/Energy.Hopfield.fs",
     "        v.Square().Sum([| 1 |]) * 0.5 - act.Potential(v.MatMul(m, false, true)).Sum([| 1 |])",
     "        v.Square().Sum([| 1 |]) - act.Potential(v.MatMul(m, false, true)).Sum([| 1 |])",
     "the poster's energy with ‖v‖² for ½‖v‖²"),
    ("settle-accepts-rises", "Crhn.Core.fs/Models/Sra.fs",
     "            let take = Array.init rows (fun i -> not settled.[i] && moved.[i] && candidateEnergy.[i] <= energy.[i])",
     "            let take = Array.init rows (fun i -> not settled.[i] && moved.[i])",
     "retrieval accepts passes that raise a code's energy"),
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(command, cwd, timeout):
    """Runs a command; returns (exit code, seconds, last lines of its output)."""
    start = time.time()
    try:
        p = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        code, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        code, out = 124, (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    return code, time.time() - start, "\n".join(out.strip().splitlines()[-5:])


def main():
    args = sys.argv[1:]
    if "--list" in args:
        for m in MUTATIONS:
            print(f"{m[0]:28} {m[1]:40} {m[4]}")
        print(f"{len(MUTATIONS)} mutations")
        return 0
    chosen = [m for m in MUTATIONS if not args or m[0] in args]
    unknown = [a for a in args if a not in {m[0] for m in MUTATIONS}]
    if unknown:
        print(f"unknown mutation(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2

    scratch = tempfile.mkdtemp(prefix="crhn-mutants-")
    print(f"scratch copy of the committed tree: {scratch}", flush=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
    cli = ["dotnet", "build", "samples/Crhn.Cli", "-c", "Release", "-v", "q", "-nologo"]
    verify = ["dotnet", "samples/Crhn.Cli/bin/Release/net10.0/Crhn.Cli.dll", "verify"]
    suite = ["dotnet", "test", "Crhn.Properties.Tests", "-c", "Release", "-v", "q", "--nologo"]

    code, secs, tail = run(cli, scratch, 1800)
    if code != 0:
        print(f"the unmutated tree does not build:\n{tail}", file=sys.stderr)
        return 2
    code, _, tail = run(verify, scratch, 600)
    if code != 0:
        print(f"crhn verify fails on the unmutated tree:\n{tail}", file=sys.stderr)
        return 2

    results = []
    for ident, path, old, new, what in chosen:
        target = os.path.join(scratch, path)
        pristine = open(os.path.join(ROOT, path), encoding="utf-8").read()
        if pristine.count(old) != 1:
            results.append((ident, "stale", f"the text to mutate occurs {pristine.count(old)} times in {path}"))
            print(f"{ident:28} stale (text occurs {pristine.count(old)} times)", flush=True)
            continue
        try:
            open(target, "w", encoding="utf-8").write(pristine.replace(old, new))
            code, secs, tail = run(cli, scratch, 1800)
            if code != 0:
                verdict, how = "invalid", f"does not build: {tail.splitlines()[-1] if tail else ''}"
            else:
                code, secs, tail = run(verify, scratch, 600)
                if code != 0:
                    verdict, how = "killed", "by crhn verify"
                else:
                    code, secs, tail = run(suite, scratch, 1800)
                    verdict, how = ("killed", "by the property suite") if code != 0 else ("survived", "")
        finally:
            open(target, "w", encoding="utf-8").write(pristine)
        results.append((ident, verdict, how))
        print(f"{ident:28} {verdict:9} {how}", flush=True)

    shutil.rmtree(scratch, ignore_errors=True)
    killed = sum(1 for r in results if r[1] == "killed")
    by_verify = sum(1 for r in results if r[2] == "by crhn verify")
    print(f"{killed} of {len(results)} killed ({by_verify} by crhn verify), "
          f"{sum(1 for r in results if r[1] == 'survived')} survived, "
          f"{sum(1 for r in results if r[1] in ('invalid', 'stale'))} invalid or stale")
    return 0 if all(r[1] == "killed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
