"""The Convolution page: a kernel sliding step by step, receptive fields, feature maps, the written-out formula."""
