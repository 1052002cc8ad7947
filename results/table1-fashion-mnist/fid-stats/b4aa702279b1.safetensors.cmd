/work/grid-bin/mmgan fid-stats --dataset fashion-mnist --features fmnist --n 0 --device cpu --out /work/grid-out/fid-stats/b4aa702279b1.safetensors
