%This code requires the G2S server to be running
addpath('clients/matlab');
% load one base training image
base_ti=double(imread(fullfile(getenv('DQS_TEST_DIR'),'stone.tiff')));
% build four related training images from the same base pattern
[rows,cols]=size(base_ti);
[x,y]=meshgrid(linspace(0,1,cols),linspace(0,1,rows));
rng(12);
ti_101=base_ti;
ti_102=min(max(base_ti+15*x,0),255);
ti_103=min(max(base_ti+15*y,0),255);
ti_104=min(max(base_ti+8*(x+y)+2*randn(size(base_ti)),0),255);
% prepare one destination image per distributed job
make_di=@(source,mode) local_make_di(source,mode);
di_101=make_di(ti_101,'top');
di_102=make_di(ti_102,'left');
di_103=make_di(ti_103,'diag');
di_104=make_di(ti_104,'center');
job_grid=[101,102;103,104];
g2s('-a','qs_prep','-id',101,'-ti',ti_101,'-di',di_101);
g2s('-a','qs_prep','-id',102,'-ti',ti_102,'-di',di_102);
g2s('-a','qs_prep','-id',103,'-ti',ti_103,'-di',di_103);
g2s('-a','qs_prep','-id',104,'-ti',ti_104,'-di',di_104);
% launch the distributed workflow
distributed_job=g2s('-a','qs_dm',...
'-jg',job_grid,...
'-dt',[0],...
'-k',1.2,...
'-n',50,...
'-j',0.5,...
'-s',100,...
'-submitOnly');
% monitor the aggregate progress
status=0;
while status<100
status=g2s('-statusOnly',distributed_job);
fprintf('distributed progress: %g\n',status);
pause(1);
end
% retrieve the chunk results one by one
chunk_results=cell(size(job_grid));
for iy=1:size(job_grid,1)
for ix=1:size(job_grid,2)
chunk_results{iy,ix}=g2s('-waitAndDownload',job_grid(iy,ix));
end
end
% for very large runs, adapt this loop to process one chunk at a time
% instead of keeping all chunks in memory simultaneously
function di=local_make_di(source,mode)
[nRows,nCols]=size(source);
di=nan(size(source));
switch mode
case 'top'
di(1:20,:)=source(1:20,:);
case 'left'
di(:,1:20)=source(:,1:20);
case 'diag'
mask=abs((1:nRows)'-(1:nCols))<6;
di(mask)=source(mask);
case 'center'
r0=floor(nRows/2);
c0=floor(nCols/2);
di(r0-11:r0+12,c0-11:c0+12)=source(r0-11:r0+12,c0-11:c0+12);
end
end
