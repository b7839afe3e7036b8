"""seg-3d's volumetric encoders: ResNet / ResNeXt, DenseNet, EfficientNet and nnU-Net's residual encoder.

Every encoder takes per-level, per-axis ``strides`` (the architectures' ``encoder_strides=``), with
kernel sizes that follow them (`seg_3d.encoders.geometry`), and 2D ImageNet weights inflated to 3D
(`seg_3d.encoders.inflate`).
"""
