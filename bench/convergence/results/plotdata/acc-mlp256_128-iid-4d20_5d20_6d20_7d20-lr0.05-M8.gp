set terminal pngcairo size 900,520 font 'sans,10'
set output 'acc-mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8.png'
set title "mlp:256,128, M=8, iid, stragglers 4:20,5:20,6:20,7:20\nlr 0.05, x0.1 every 2 epochs, batch 32: mean of the seeds, band ±1 std" noenhanced
set xlabel 'epochs (samples seen by all workers / training set)'
set ylabel 'test accuracy (rank 0)'
set grid
set key outside right top
plot 'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-sgd.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc rgb 'black' notitle, \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-sgd.dat' using 1:2 with linespoints lw 2 dashtype 2 pt 7 ps 0.6 lc rgb 'black' title 'sequential SGD (M=1)', \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-asgd.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-asgd.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 1 title 'asgd', \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-dc-asgd-c.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-dc-asgd-c.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 3 title 'dc-asgd-c', \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-dc-asgd-a.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 4 notitle, \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-dc-asgd-a.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 4 title 'dc-asgd-a', \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-pc-agents-pred.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 9 notitle, \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-pc-agents-pred.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 9 title 'pc-agents-pred', \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-pc-agents-clip.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 10 notitle, \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-pc-agents-clip.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 10 title 'pc-agents-clip', \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-pc-agents-mix.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 11 notitle, \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-pc-agents-mix.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 11 title 'pc-agents-mix', \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-pc-agents-auto.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 12 notitle, \
     'plotdata/mlp256_128-iid-4d20_5d20_6d20_7d20-lr0.05-M8-pc-agents-auto.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 12 title 'pc-agents-auto'
