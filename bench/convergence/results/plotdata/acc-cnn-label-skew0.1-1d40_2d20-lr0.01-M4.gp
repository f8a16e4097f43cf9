set terminal pngcairo size 900,520 font 'sans,10'
set output 'acc-cnn-label-skew0.1-1d40_2d20-lr0.01-M4.png'
set title "cnn, M=4, label-skew:0.1, stragglers 1:40,2:20\nlr 0.01, x0.1 every 2 epochs, batch 32: mean of the seeds, band ±1 std" noenhanced
set xlabel 'epochs (samples seen by all workers / training set)'
set ylabel 'test accuracy (rank 0)'
set grid
set key outside right top
plot 'plotdata/cnn-label-skew0.1-1d40_2d20-lr0.01-M4-sgd.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc rgb 'black' notitle, \
     'plotdata/cnn-label-skew0.1-1d40_2d20-lr0.01-M4-sgd.dat' using 1:2 with linespoints lw 2 dashtype 2 pt 7 ps 0.6 lc rgb 'black' title 'sequential SGD (M=1)', \
     'plotdata/cnn-label-skew0.1-1d40_2d20-lr0.01-M4-asgd.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, \
     'plotdata/cnn-label-skew0.1-1d40_2d20-lr0.01-M4-asgd.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 1 title 'asgd', \
     'plotdata/cnn-label-skew0.1-1d40_2d20-lr0.01-M4-dc-asgd-a.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 4 notitle, \
     'plotdata/cnn-label-skew0.1-1d40_2d20-lr0.01-M4-dc-asgd-a.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 4 title 'dc-asgd-a', \
     'plotdata/cnn-label-skew0.1-1d40_2d20-lr0.01-M4-dude-asgd.dat' using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 6 notitle, \
     'plotdata/cnn-label-skew0.1-1d40_2d20-lr0.01-M4-dude-asgd.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc 6 title 'dude-asgd'
