# dfd: every target creates .venv when missing and reinstalls only when pyproject.toml or constraints.txt changed.
# pyproject.toml takes version ranges; constraints.txt pins the exact versions make and CI test with.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
PYTEST_ARGS ?=

export NO_ALBUMENTATIONS_UPDATE := 1
export PYTHONUNBUFFERED := 1

.PHONY: demo published-demo sbi-mini temporal-mini protocol-mini test test-fast coverage bench bench-full lint install

$(STAMP): pyproject.toml constraints.txt setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,smote,landmarks]'
	@touch $(STAMP)

install: $(STAMP)

## demo: generate a mini FF++ tree (real faces, H.264), preprocess it, train Meso4 (select on val AUC), evaluate on test,
## export the model and predict on two raw videos and a photo, with a Grad-CAM picture of each
DEMO_RAW := data/raw/ffpp_mini
demo: $(STAMP)
	rm -rf outputs/demo data/ffpp_mini $(DEMO_RAW)
	$(PY) -m dfd.generate mini=ffpp out_dir=$(DEMO_RAW) mini.n_pairs=12 'mini.methods=[Deepfakes,FaceSwap]' \
		video.n_frames=16 hydra.run.dir=outputs/demo/generate
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(PY) -m dfd.preprocess data=ffpp data.raw_dir=$(DEMO_RAW) data.root=data/ffpp_mini \
		'data.layout.methods=[Deepfakes,FaceSwap]' preprocess.num_frames=8 preprocess.num_workers=0 \
		preprocess.cropper.crop_size=128 hydra.run.dir=outputs/demo/preprocess
	HF_HUB_OFFLINE=1 $(PY) -m dfd.train experiment=mesonet_ffpp_mini hydra.run.dir=outputs/demo
	HF_HUB_OFFLINE=1 $(PY) -m dfd.eval ckpt_path=outputs/demo/checkpoints/best.ckpt split=test \
		out_dir=outputs/demo/eval hydra.run.dir=outputs/demo/eval
	HF_HUB_OFFLINE=1 $(PY) -m dfd.export ckpt_path=outputs/demo/checkpoints/best.ckpt out_dir=outputs/demo/model \
		hydra.run.dir=outputs/demo/export
	$(PY) -c "from skimage import data; from PIL import Image; Image.fromarray(data.astronaut()).save('$(DEMO_RAW)/astronaut.jpg')"
	printf '%s\n' original_sequences/youtube/c23/videos/000.mp4 manipulated_sequences/FaceSwap/c23/videos/000_001.mp4 \
		astronaut.jpg > $(DEMO_RAW)/demo_inputs.txt
	HF_HUB_OFFLINE=1 $(PY) -m dfd.predict ckpt_path=outputs/demo/model input=$(DEMO_RAW)/demo_inputs.txt \
		output=outputs/demo/predictions.csv visualize=true visualize_dir=outputs/demo/explanations \
		hydra.run.dir=outputs/demo/predict
	@echo; echo "== demo finished"; cat outputs/demo/summary.txt; echo "eval report   : outputs/demo/eval"
	@echo "exported model: outputs/demo/model"; echo "predictions   : outputs/demo/predictions.csv"
	@echo "pictures      : outputs/demo/explanations (frames, face boxes, Grad-CAM)"
	@cut -d, -f1-5,7,8,10 outputs/demo/predictions.csv | column -s, -t

## published-demo: a published detector in use, with RANDOM weights standing in for SBI's release (the scores mean
## nothing): a stand-in FFraw.tar saved as SBI saves its releases, imported, and scoring a demo video (README)
PUB_OUT := outputs/published_demo
published-demo: $(STAMP)
	test -d $(DEMO_RAW) || $(PY) -m dfd.generate mini=ffpp out_dir=$(DEMO_RAW) mini.n_pairs=12 \
		'mini.methods=[Deepfakes,FaceSwap]' video.n_frames=16 hydra.run.dir=outputs/demo/generate
	rm -rf $(PUB_OUT) && mkdir -p $(PUB_OUT)
	$(PY) -c "import torch; from efficientnet_pytorch import EfficientNet; \
		net = EfficientNet.from_name('efficientnet-b4', num_classes=2); \
		torch.save({'model': {'net.' + k: v for k, v in net.state_dict().items()}, 'epoch': 0}, '$(PUB_OUT)/FFraw_standin.tar')"
	HF_HUB_OFFLINE=1 $(PY) -m dfd.import_weights source=sbi path=$(PUB_OUT)/FFraw_standin.tar out_dir=$(PUB_OUT)/model \
		'name="SBI EfficientNet-B4 (RANDOM stand-in weights)"' hydra.run.dir=$(PUB_OUT)/import
	HF_HUB_OFFLINE=1 $(PY) -m dfd.predict ckpt_path=$(PUB_OUT)/model \
		input=$(DEMO_RAW)/original_sequences/youtube/c23/videos/000.mp4 output=$(PUB_OUT)/predictions.csv \
		device=cpu hydra.run.dir=$(PUB_OUT)/predict
	@echo; echo "== random weights stood in for SBI's release: the score means nothing"; cat $(PUB_OUT)/predictions.csv

## sbi-mini: the self-blended images evidence of docs/sbi.md: a mini FF++ tree preprocessed with dlib's 68 landmarks,
## Meso4 trained on its real crops and their self-blends only, and the same run on the tree's own fakes; both
## tested on the tree's Deepfakes and FaceSwap fakes, tabled (summary.md) and A/B compared (DeLong)
SBI_RAW := data/raw/ffpp_sbi_mini
SBI_OUT := outputs/sbi_mini
sbi-mini: $(STAMP)
	rm -rf $(SBI_OUT) data/ffpp_sbi_mini $(SBI_RAW)
	$(PY) -m dfd.generate mini=ffpp out_dir=$(SBI_RAW) mini.n_pairs=12 'mini.methods=[Deepfakes,FaceSwap]' \
		video.n_frames=16 hydra.run.dir=$(SBI_OUT)/generate
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(PY) -m dfd.preprocess data=ffpp data.raw_dir=$(SBI_RAW) \
		data.root=data/ffpp_sbi_mini 'data.layout.methods=[Deepfakes,FaceSwap]' preprocess.num_frames=8 \
		preprocess.num_workers=0 preprocess.cropper.crop_size=128 preprocess.landmarks=dlib68 \
		hydra.run.dir=$(SBI_OUT)/preprocess
	HF_HUB_OFFLINE=1 $(PY) -m dfd.train experiment=mesonet_ffpp_mini_sbi data.root=data/ffpp_sbi_mini \
		data.fakes=self_blended data.val_fakes=blended hydra.run.dir=$(SBI_OUT)/self_blended
	HF_HUB_OFFLINE=1 $(PY) -m dfd.train experiment=mesonet_ffpp_mini_sbi data.root=data/ffpp_sbi_mini \
		data.fakes=dataset data.val_fakes=dataset hydra.run.dir=$(SBI_OUT)/dataset
	HF_HUB_OFFLINE=1 $(PY) -m dfd.summarize 'runs=[$(SBI_OUT)/dataset,$(SBI_OUT)/self_blended]' \
		out_dir=$(SBI_OUT)/summary hydra.run.dir=$(SBI_OUT)/summary
	HF_HUB_OFFLINE=1 $(PY) -m dfd.compare ckpt_a=$(SBI_OUT)/dataset/checkpoints/best.ckpt \
		ckpt_b=$(SBI_OUT)/self_blended/checkpoints/best.ckpt data=ffpp data.root=data/ffpp_sbi_mini \
		out_dir=$(SBI_OUT)/compare hydra.run.dir=$(SBI_OUT)/compare

## protocol-mini: the field's table on a mini FF++ tree (with its DFD scenes): crops made by DeepfakeBench's rule
## (preprocess=deepfakebench: dlib, aligned, 32 frames, masks), then protocol=deepfakebench_v1 with Meso4 trained
## as the protocol says (a few CPU epochs), reported beside DeepfakeBench's published Meso4 row; the datasets
## a machine lacks (Celeb-DF, DFDC, ...) are skipped and named
PROTOCOL_RAW := data/raw/ffpp_protocol_mini
PROTOCOL_DATA := data/protocol_mini
PROTOCOL_OUT := outputs/protocol_mini
PROTOCOL_METHODS := '[Deepfakes,Face2Face,FaceSwap,NeuralTextures,FaceShifter]'
protocol-mini: $(STAMP)
	rm -rf $(PROTOCOL_OUT) $(PROTOCOL_DATA) $(PROTOCOL_RAW)
	$(PY) -m dfd.generate mini=ffpp out_dir=$(PROTOCOL_RAW) mini.n_pairs=12 'mini.split_pairs=[6,2,4]' \
		mini.methods=$(PROTOCOL_METHODS) mini.include_dfd=true video.n_frames=40 hydra.run.dir=$(PROTOCOL_OUT)/generate
	OMP_NUM_THREADS=1 $(PY) -m dfd.preprocess preprocess=deepfakebench data=ffpp data.raw_dir=$(PROTOCOL_RAW) \
		data.root=$(PROTOCOL_DATA)/ffpp data.layout.methods=$(PROTOCOL_METHODS) hydra.run.dir=$(PROTOCOL_OUT)/preprocess_ffpp
	OMP_NUM_THREADS=1 $(PY) -m dfd.preprocess preprocess=deepfakebench data=dfd data.raw_dir=$(PROTOCOL_RAW) \
		data.root=$(PROTOCOL_DATA)/dfd hydra.run.dir=$(PROTOCOL_OUT)/preprocess_dfd
	HF_HUB_OFFLINE=1 $(PY) -m dfd.protocol protocol=deepfakebench_v1 protocol.detector=meso4 \
		paths.data_dir=$(PROTOCOL_DATA) n_boot=500 out_dir=$(PROTOCOL_OUT) hydra.run.dir=$(PROTOCOL_OUT) \
		"train_overrides=['trainer=cpu','trainer.max_epochs=4','trainer.accumulate_grad_batches=1','data.frames_per_video=8','data.num_workers=0','data.pin_memory=false','model.optimizer.lr=2e-3']" \
		"eval_overrides=['trainer.accelerator=cpu','data.num_workers=0','data.pin_memory=false']"
	@echo; echo "== protocol-mini finished: $(PROTOCOL_OUT)/protocol.md"

## temporal-mini: the evidence of docs/temporal.md that the temporal models see time: a mini FF++ tree whose only
## fakes are Temporal (every frame a clean real one; the person flickers between two from frame to frame), cropped
## from every frame; Meso4 (frames) and FTCN, TALL and TemporalHead (clips of 4) trained on it, Meso4 on a Deepfakes
## tree as the control; every test clip scored in order, shuffled and frozen (outputs/temporal_mini/evidence.md)
TEMPORAL_OUT := outputs/temporal_mini
TEMPORAL_TREE := mini.n_pairs=18 'mini.split_pairs=[10,3,5]' mini.compression=raw video.n_frames=24
# every frame (stride 1); each frame's own face box (not the original's)
TEMPORAL_CROPS := data.layout.compression=raw preprocess.stride=1 preprocess.num_frames=24 \
	preprocess.reuse_source_boxes=false preprocess.num_workers=0 preprocess.cropper.crop_size=96 \
	preprocess.cropper.keyframe_every=1
temporal-mini: $(STAMP)
	rm -rf $(TEMPORAL_OUT) data/ffpp_temporal_mini data/ffpp_deepfakes_mini data/raw/ffpp_temporal_mini \
		data/raw/ffpp_deepfakes_mini
	@set -e; for m in Temporal Deepfakes; do tree=ffpp_$$(echo $$m | tr A-Z a-z)_mini; \
		$(PY) -m dfd.generate mini=ffpp out_dir=data/raw/$$tree "mini.methods=[$$m]" $(TEMPORAL_TREE) \
			hydra.run.dir=$(TEMPORAL_OUT)/generate_$$m; \
		OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(PY) -m dfd.preprocess data=ffpp data.raw_dir=data/raw/$$tree \
			data.root=data/$$tree "data.layout.methods=[$$m]" $(TEMPORAL_CROPS) hydra.run.dir=$(TEMPORAL_OUT)/preprocess_$$m; \
	done
	@set -e; for model in mesonet ftcn tall temporal_head; do \
		HF_HUB_OFFLINE=1 $(PY) -m dfd.train experiment=$${model}_ffpp_mini_temporal \
			data.root=data/ffpp_temporal_mini hydra.run.dir=$(TEMPORAL_OUT)/$$model; done
	HF_HUB_OFFLINE=1 $(PY) -m dfd.train experiment=mesonet_ffpp_mini_temporal data.root=data/ffpp_deepfakes_mini \
		data.raw_dir=data/raw/ffpp_deepfakes_mini 'data.layout.methods=[Deepfakes]' hydra.run.dir=$(TEMPORAL_OUT)/mesonet_deepfakes
	HF_HUB_OFFLINE=1 PYTHONPATH=. $(PY) benchmarks/temporal_evidence.py \
		$(TEMPORAL_OUT)/mesonet $(TEMPORAL_OUT)/ftcn $(TEMPORAL_OUT)/tall $(TEMPORAL_OUT)/temporal_head \
		--control $(TEMPORAL_OUT)/mesonet_deepfakes --out $(TEMPORAL_OUT)/evidence.md

## test: the whole suite, slow tests included (tests never reach a model hub), on PYTEST_WORKERS
## pytest-xdist workers of one torch thread each; budgets and tiers: docs/testing.md
PYTEST_WORKERS ?= 2
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## test-fast: skip the tests marked slow
test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

## coverage: the whole suite with line coverage of dfd/ (terminal summary and htmlcov/)
coverage: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -n $(PYTEST_WORKERS) --cov=dfd --cov-report=term:skip-covered \
		--cov-report=html $(PYTEST_ARGS)

## bench: every benchmarks/bench_*.py at its default size (the target: about 10 minutes here); each prints a ratio
## against its named baseline. bench-full: the sizes the targets are read off (bench_data_scale to 4M rows, ~1 h)
bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; HF_HUB_OFFLINE=1 PYTHONPATH=. $(PY) $$b; done

bench-full: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; \
		full=$$(grep -q -- '"--full"' $$b && echo --full || true); HF_HUB_OFFLINE=1 PYTHONPATH=. $(PY) $$b $$full; done

lint: $(STAMP)
	$(PY) -m ruff check dfd tests benchmarks
	$(PY) -m ruff format --check dfd tests benchmarks
