"""The support wing: what any program needs and a GAN does not teach: errors, environment settings, files written
safely, the device and its precision, seeds, processes, and pixel conversions."""
